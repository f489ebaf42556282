import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Outbox, REJECTED_DIR } from '../../../../agent/core/outbox/index.ts';
import { itemFileName } from '../../../../agent/core/outbox/record.ts';
import {
  SET_ASIDE_RETENTION_DAYS,
  setAsideAt,
} from '../../../../agent/core/outbox/set-aside-retention.ts';
import { removeDir, sampleEvent, sampleReport, tempDir } from '../../../helpers/outbox-fixtures.ts';

const DAY = 86_400_000;
const T = Date.parse('2026-09-01T08:40:00Z');
let dir: string;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await removeDir(dir);
});

const openAt = (now: number) => Outbox.open({ dir, maxReports: 100, now: () => now });
const files = async (sub = '') => (await readdir(join(dir, sub))).sort();

describe('set-aside retention', () => {
  it('keeps a corrupt file for the retention, then removes it at open', async () => {
    const garbage = itemFileName(7, 'report', '00000000-0000-4000-8000-000000000007');
    await writeFile(join(dir, garbage), 'garbage');
    const first = await openAt(T);
    const [aside] = first.corruptFiles();
    expect(aside?.movedTo).toBe(`${garbage}.corrupt-${String(T)}`);
    await first.close();

    const within = await openAt(T + (SET_ASIDE_RETENTION_DAYS - 1) * DAY);
    expect(within.prunedAtOpen()).toEqual([]);
    await within.close();
    expect(await files()).toContain(aside?.movedTo);

    const after = await openAt(T + (SET_ASIDE_RETENTION_DAYS + 1) * DAY);
    expect(after.prunedAtOpen()).toEqual([aside?.movedTo]);
    expect(await files()).toEqual([REJECTED_DIR]);
  });

  it('removes a rejected item and its reason once past the retention, and nothing else', async () => {
    const outbox = await openAt(T);
    const refused = sampleReport();
    const kept = sampleEvent();
    await outbox.add(refused);
    await outbox.add(kept);
    expect(await outbox.reject([refused.id], 'schema: bad')).toHaveLength(1);
    await outbox.close();
    const [item, reason] = await files(REJECTED_DIR);
    expect(reason).toBe(`${item ?? ''}.reason`);

    const later = await openAt(T + (SET_ASIDE_RETENTION_DAYS + 1) * DAY);
    expect([...later.prunedAtOpen()].sort()).toEqual(
      [join(REJECTED_DIR, item ?? ''), join(REJECTED_DIR, reason ?? '')].sort(),
    );
    expect(await files(REJECTED_DIR)).toEqual([]);
    // The queued event is untouched.
    expect((await later.peekBatch()).map((i) => i.id)).toEqual([kept.id]);
  });

  it('removes a reason note a crash left half-written', async () => {
    await (await openAt(T)).close();
    await writeFile(join(dir, REJECTED_DIR, '.tmp-0b1f'), '{"id":');
    const reopened = await openAt(T);
    expect(reopened.prunedAtOpen()).toEqual([join(REJECTED_DIR, '.tmp-0b1f')]);
  });

  it.each([
    ['x.json.corrupt-1700000000000', 1_700_000_000_000],
    ['x.json.corrupt-', null],
    ['x.json.corrupt-12ab', null],
    ['policy.json', null],
  ])('setAsideAt(%s)', (name, at) => {
    expect(setAsideAt(name)).toBe(at);
  });
});
