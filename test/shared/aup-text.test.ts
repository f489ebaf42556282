import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { aupDocumentText, aupTextSha256, sha256Hex, utf8 } from '../../shared/index.ts';

const nodeSha = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

describe('AUP document text and its SHA-256', () => {
  it('joins title, introduction and statements with newlines', () => {
    const document = { title: 'T', introduction: 'I', statements: ['a', 'b'] };
    expect(aupDocumentText(document)).toBe('T\nI\na\nb');
    expect(aupTextSha256(document)).toBe(nodeSha('T\nI\na\nb'));
  });

  it('computes the same digest as node:crypto at every padding boundary', () => {
    for (let length = 0; length < 300; length++) {
      const bytes = randomBytes(length);
      expect(sha256Hex(bytes)).toBe(nodeSha(bytes));
    }
  });

  it('encodes UTF-8 as Node does, lone surrogates included', () => {
    const samples = [
      '',
      'plain',
      'Siân Ó Briain',
      'אבג\u202edcba',
      '🙂 emoji',
      'lone \ud800 x',
      '\udc00',
    ];
    for (const text of samples) {
      expect(Buffer.from(utf8(text)).equals(Buffer.from(text, 'utf8'))).toBe(true);
      expect(aupTextSha256({ title: text, introduction: '', statements: [text] })).toBe(
        nodeSha(`${text}\n\n${text}`),
      );
    }
  });
});
