// Drop counts survive SIGKILL (issue 12): a child adds reports and events past tiny bounds until
// it is killed at a random moment; every count it was told (an add resolved) must be there when
// the outbox is opened again, and at most the one add in flight may have added to it.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Outbox } from '../../../../agent/core/outbox/index.ts';
import { runChild } from '../../../helpers/outbox-child.ts';
import { removeDir, tempDir } from '../../../helpers/outbox-fixtures.ts';
import { DROP_LOOP_BOUNDS } from './drop-loop-bounds.ts';

const dropLoop = fileURLToPath(new URL('./drop-loop.ts', import.meta.url));
const KILLS = 12;
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map(removeDir));
});

describe('drop counts across SIGKILL', () => {
  it(`keeps every count a killed process had reached, ${KILLS} kills in a row`, async () => {
    const state = await tempDir();
    dirs.push(state);
    const dir = join(state, 'outbox');
    const dropCountsFile = join(state, 'drop-counts.json');
    let seen = { reports: 0, events: 0 };
    for (let i = 0; i < KILLS; i++) {
      // Some kills land before the child has added anything, most in the middle of adds.
      const run = await runChild(
        dropLoop,
        [dir, dropCountsFile],
        20 + Math.floor(Math.random() * 200),
      );
      expect(run, `child failed: ${run.stderr}`).toMatchObject({ killed: true });
      const last = run.lines.filter((line) => line.startsWith('=')).at(-1);
      if (last !== undefined) {
        const [reports = 0, events = 0] = last.slice(1).split(',').map(Number);
        seen = { reports, events };
      }
      const outbox = await Outbox.open({ dir, dropCountsFile, ...DROP_LOOP_BOUNDS });
      const kept = outbox.pendingDrops();
      const reports = kept.reports?.count ?? 0;
      const events = kept.events?.count ?? 0;
      // An add in flight when the kill came may have dropped one more report (or the open just
      // now trimmed the report it had written) or had one more event refused.
      expect(reports, `reports after kill ${i + 1}`).toBeGreaterThanOrEqual(seen.reports);
      expect(reports, `reports after kill ${i + 1}`).toBeLessThanOrEqual(seen.reports + 1);
      expect(events, `events after kill ${i + 1}`).toBeGreaterThanOrEqual(seen.events);
      expect(events, `events after kill ${i + 1}`).toBeLessThanOrEqual(seen.events + 1);
      expect(outbox.dropCountsProblem()).toBeNull();
      expect(outbox.corruptFiles()).toEqual([]);
      seen = { reports, events };
      await outbox.close();
    }
    // The kills did land among drops: otherwise this test proved nothing.
    expect(seen.reports).toBeGreaterThan(0);
    expect(seen.events).toBeGreaterThan(0);
  }, 600_000);
});
