// The pure parts of the AUP register: when an academic year (a re-sign cycle) starts, and the
// fingerprint of a document's text that ties a signature to the words shown.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  academicYearStart,
  aupTextSha256,
  findSignedText,
  type StoredAupDocument,
} from '../../../server/store/aup-documents.ts';

describe('academicYearStart', () => {
  // The year starts when its date first begins anywhere: 10:00 UTC the day before (UTC+14).
  it.each([
    ['2026-12-05T12:00:00Z', '09-01', '2026-08-31T10:00:00.000Z'],
    ['2027-01-15T08:00:00Z', '09-01', '2026-08-31T10:00:00.000Z'],
    ['2027-08-31T09:59:59Z', '09-01', '2026-08-31T10:00:00.000Z'],
    ['2027-08-31T10:00:00Z', '09-01', '2027-08-31T10:00:00.000Z'],
    ['2027-09-01T00:00:00Z', '09-01', '2027-08-31T10:00:00.000Z'],
    ['2027-03-01T00:00:00Z', '01-01', '2026-12-31T10:00:00.000Z'],
    ['2026-12-31T11:00:00Z', '01-01', '2026-12-31T10:00:00.000Z'],
    ['2026-12-31T09:00:00Z', '01-01', '2025-12-31T10:00:00.000Z'],
    ['2028-02-28T12:00:00Z', '02-29', '2028-02-28T10:00:00.000Z'],
  ])('at %s with years from %s: %s', (now, starts, expected) => {
    expect(academicYearStart(new Date(now), starts).toISOString()).toBe(expected);
  });
});

describe('aupTextSha256', () => {
  const doc = { title: 'Rules', introduction: 'Read these.', statements: ['One', 'Two é'] };
  it('hashes title, introduction and statements joined by newlines, as UTF-8', () => {
    const expected = createHash('sha256')
      .update(Buffer.from('Rules\nRead these.\nOne\nTwo \u00e9', 'utf8'))
      .digest('hex');
    expect(aupTextSha256(doc)).toBe(expected);
  });
  it('changes with any statement', () => {
    expect(aupTextSha256({ ...doc, statements: ['One', 'Two e'] })).not.toBe(aupTextSha256(doc));
  });
});

describe('findSignedText', () => {
  const stored: StoredAupDocument = {
    id: 'pupil-aup',
    kind: 'aup',
    role: 'pupil',
    version: '1',
    title: 'Rules',
    introduction: 'Read these.',
    statements: ['One'],
    askTutorGroup: true,
    askParentCarer: true,
    textSha256: aupTextSha256({ title: 'Rules', introduction: 'Read these.', statements: ['One'] }),
    publishedAt: new Date(0),
  };
  it('finds the text only by id, version and fingerprint together', () => {
    const signed = { documentId: 'pupil-aup', version: '1', textSha256: stored.textSha256 };
    expect(findSignedText([stored], signed).document).toBe(stored);
    expect(findSignedText([stored], { ...signed, textSha256: '0'.repeat(64) }).problem).toContain(
      'does not match',
    );
    expect(findSignedText([stored], { ...signed, version: '2' }).problem).toContain(
      'No policy stored',
    );
  });
});
