import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  Outbox,
  deliver,
  type OutboxItem,
  type SendOutcome,
} from '../../../../agent/core/outbox/index.ts';
import {
  listDir,
  removeDir,
  sampleEvent,
  sampleReport,
  tempDir,
} from '../../../helpers/outbox-fixtures.ts';

let dir: string;
const clock = { now: 5_000_000 };
beforeEach(async () => {
  dir = await tempDir();
  clock.now = 5_000_000;
});
afterEach(async () => {
  await removeDir(dir);
});

const open = () =>
  Outbox.open({
    dir,
    maxReports: 1000,
    backoff: { baseMs: 30_000, capMs: 3_600_000 },
    random: () => 0.5,
    now: () => clock.now,
  });

async function fill(outbox: Outbox, reports: number, events: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < Math.max(reports, events); i++) {
    for (const item of [i < reports ? sampleReport() : null, i < events ? sampleEvent() : null]) {
      if (item !== null) {
        await outbox.add(item);
        ids.push(item.id);
      }
    }
  }
  return ids;
}

/** An idempotent in-memory server: stores by id, answers with what it holds of the batch. */
function fakeServer() {
  const stored = new Set<string>();
  const batches: string[][] = [];
  const accept = (batch: OutboxItem[]): SendOutcome => {
    batches.push(batch.map((item) => item.id));
    for (const item of batch) {
      stored.add(item.id);
    }
    return { kind: 'accepted', ids: batch.map((item) => item.id) };
  };
  return { stored, batches, accept };
}

describe('deliver', () => {
  it('sends everything oldest first in batches and empties the outbox', async () => {
    const outbox = await open();
    const ids = await fill(outbox, 7, 12);
    const server = fakeServer();
    const result = await deliver(outbox, (b) => Promise.resolve(server.accept(b)), {
      maxReports: 3,
      maxEvents: 5,
    });
    expect(result).toMatchObject({ status: 'drained', delivered: 19, nextAttemptAt: null });
    // Every id once; within a batch oldest first. (Per-kind limits let events run ahead of
    // reports across batches, which is fine: the server orders by the items' own times.)
    expect(server.batches.flat().sort()).toEqual([...ids].sort());
    for (const batch of server.batches) {
      const positions = batch.map((id) => ids.indexOf(id));
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
      expect(batch.length).toBeLessThanOrEqual(8);
    }
    expect(server.batches[0]).toEqual(ids.slice(0, 6).concat(ids[7] ?? '', ids[9] ?? ''));
    expect(outbox.depth()).toEqual({ reports: 0, events: 0 });
    expect((await open()).depth()).toEqual({ reports: 0, events: 0 });
  });

  it('acknowledges only the ids the server accepted, and only ids from the batch', async () => {
    const outbox = await open();
    const ids = await fill(outbox, 2, 2);
    const [first] = ids as [string];
    let calls = 0;
    const result = await deliver(outbox, () => {
      calls++;
      // First answer: one id of the batch, in upper case, and an id from nowhere.
      const answer = calls === 1 ? [first.toUpperCase(), crypto.randomUUID()] : ids;
      return Promise.resolve({ kind: 'accepted', ids: answer });
    });
    expect(result).toMatchObject({ status: 'drained', delivered: 4, batches: 2 });
  });

  it('backs off when the server accepts nothing, instead of spinning', async () => {
    const outbox = await open();
    await fill(outbox, 1, 1);
    const result = await deliver(outbox, () => Promise.resolve({ kind: 'accepted', ids: [] }));
    expect(result).toMatchObject({ status: 'backing-off', delivered: 0, batches: 1 });
    expect(outbox.depth()).toEqual({ reports: 1, events: 1 });
  });

  it('keeps everything and waits after a failure; a thrown send is a failure', async () => {
    const outbox = await open();
    await fill(outbox, 2, 1);
    const failed = await deliver(outbox, () => Promise.reject(new Error('ECONNREFUSED')));
    expect(failed).toMatchObject({ status: 'backing-off', nextAttemptAt: clock.now + 15_000 });
    expect(String(failed.error)).toMatch(/ECONNREFUSED/);
    expect(outbox.depth()).toEqual({ reports: 2, events: 1 });

    let sends = 0;
    const server = fakeServer();
    const send = (batch: OutboxItem[]) => {
      sends++;
      return Promise.resolve(server.accept(batch));
    };
    clock.now += 14_999;
    expect(await deliver(outbox, send)).toMatchObject({ status: 'not-due', delivered: 0 });
    expect(sends).toBe(0);
    clock.now += 1;
    expect(await deliver(outbox, send)).toMatchObject({ status: 'drained', delivered: 3 });
    expect(outbox.failures()).toBe(0);
  });

  it('grows the wait with each failed round, and honours Retry-After', async () => {
    const outbox = await open();
    await fill(outbox, 1, 0);
    const waits: (number | null)[] = [];
    for (let i = 0; i < 4; i++) {
      const round = await deliver(outbox, () => Promise.resolve({ kind: 'failed', error: 503 }));
      waits.push((round.nextAttemptAt ?? 0) - clock.now);
      clock.now = round.nextAttemptAt ?? clock.now;
    }
    expect(waits).toEqual([15_000, 30_000, 60_000, 120_000]);
    const busy = await deliver(outbox, () => Promise.resolve({ kind: 'retry-after', ms: 600_000 }));
    // The server's 10 min, and up to a tenth more at random (0.5 here): not the back-off's.
    expect(busy).toMatchObject({ status: 'backing-off', nextAttemptAt: clock.now + 630_000 });
  });

  it('sets refused items aside in rejected/, reports them, and delivers the rest', async () => {
    const outbox = await open();
    const ids = await fill(outbox, 2, 2);
    const refused = ids[1] ?? '';
    const server = fakeServer();
    const result = await deliver(outbox, (batch) =>
      Promise.resolve(
        batch.some((item) => item.id === refused)
          ? { kind: 'rejected', ids: [refused], reason: 'HTTP 422: unknown check id' }
          : server.accept(batch),
      ),
    );
    expect(result).toMatchObject({ status: 'drained', delivered: 3 });
    expect(result.rejected).toEqual([
      expect.objectContaining({ id: refused, reason: 'HTTP 422: unknown check id' }),
    ]);
    expect([...server.stored].sort()).toEqual(ids.filter((id) => id !== refused).sort());
    expect((await listDir(`${dir}/rejected`)).some((f) => f.includes(refused))).toBe(true);
  });

  it('backs off when a rejection names nothing in the batch', async () => {
    const outbox = await open();
    await fill(outbox, 1, 0);
    const result = await deliver(outbox, () =>
      Promise.resolve({ kind: 'rejected', ids: [], reason: 'HTTP 400' }),
    );
    expect(result).toMatchObject({ status: 'backing-off', rejected: [] });
    expect(outbox.depth().reports).toBe(1);
  });
});

describe('deliver across a restart (the back-off kept in a file)', () => {
  const openKeeping = () =>
    Outbox.open({
      dir: join(dir, 'outbox'),
      retryStateFile: join(dir, 'delivery-retry.json'),
      maxReports: 1000,
      backoff: { baseMs: 30_000, capMs: 3_600_000 },
      random: () => 0.5,
      now: () => clock.now,
    });
  const failed = () => Promise.resolve<SendOutcome>({ kind: 'failed', error: 503 });

  it("still obeys the server's Retry-After after a restart", async () => {
    const before = await openKeeping();
    await fill(before, 2, 1);
    const busy = await deliver(before, () =>
      Promise.resolve<SendOutcome>({ kind: 'retry-after', ms: 600_000 }),
    );
    expect(busy.nextAttemptAt).toBe(clock.now + 630_000);
    await before.close();

    clock.now += 60_000;
    const after = await openKeeping();
    const sends: number[] = [];
    const server = fakeServer();
    const send = (batch: OutboxItem[]) => {
      sends.push(clock.now);
      return Promise.resolve(server.accept(batch));
    };
    expect(await deliver(after, send)).toMatchObject({
      status: 'not-due',
      nextAttemptAt: clock.now + 570_000,
    });
    expect(sends).toEqual([]);
    clock.now += 570_000;
    expect(await deliver(after, send)).toMatchObject({ status: 'drained', delivered: 3 });
    expect(JSON.parse(await readFile(join(dir, 'delivery-retry.json'), 'utf8'))).toEqual({
      failures: 0,
      nextAt: null,
    });
  });

  it('goes on growing the wait instead of starting over, and resets after a success', async () => {
    const first = await openKeeping();
    await fill(first, 1, 0);
    const waits: number[] = [];
    for (let restart = 0; restart < 4; restart++) {
      const outbox = restart === 0 ? first : await openKeeping();
      const round = await deliver(outbox, failed);
      waits.push((round.nextAttemptAt ?? 0) - clock.now);
      clock.now = round.nextAttemptAt ?? clock.now;
      await outbox.close();
    }
    expect(waits).toEqual([15_000, 30_000, 60_000, 120_000]);
    const server = fakeServer();
    const last = await openKeeping();
    expect(last.failures()).toBe(4);
    await deliver(last, (b) => Promise.resolve(server.accept(b)));
    expect(last.failures()).toBe(0);
    expect((await openKeeping()).failures()).toBe(0);
  });

  it('a clock set back does not silence the device for longer than the longest wait', async () => {
    const outbox = await openKeeping();
    await fill(outbox, 1, 0);
    await deliver(outbox, () =>
      Promise.resolve<SendOutcome>({ kind: 'retry-after', ms: 3_600_000 }),
    );
    await outbox.close();
    clock.now -= 30 * 86_400_000;
    const reopened = await openKeeping();
    // The default longest Retry-After obeyed is a day.
    expect(reopened.nextAttemptAt()).toBe(clock.now + 86_400_000);
  });

  it.each([
    ['not JSON', '{"failures": 3, "nextAt": '],
    ['a negative count', '{"failures": -1, "nextAt": 5}'],
    ['a time that is text', '{"failures": 2, "nextAt": "tomorrow"}'],
    ['failures without a time', '{"failures": 2, "nextAt": null}'],
    ['an array', '[1, 2]'],
    ['a huge file', `{"failures": 1, "nextAt": 1, "pad": "${'x'.repeat(5000)}"}`],
  ])('removes a kept file holding %s, says why, and sends at once', async (_, text) => {
    await writeFile(join(dir, 'delivery-retry.json'), text);
    const outbox = await openKeeping();
    expect(outbox.retryStateProblem()).toMatch(/delivery-retry\.json: /);
    expect(outbox.failures()).toBe(0);
    expect(outbox.isDue()).toBe(true);
    await expect(readFile(join(dir, 'delivery-retry.json'))).rejects.toMatchObject({
      code: 'ENOENT',
    });
    await fill(outbox, 1, 0);
    const server = fakeServer();
    expect(await deliver(outbox, (b) => Promise.resolve(server.accept(b)))).toMatchObject({
      delivered: 1,
    });
  });

  it('writes no file when no file is asked for', async () => {
    const outbox = await open();
    await fill(outbox, 1, 0);
    await deliver(outbox, failed);
    expect((await listDir(dir)).filter((name) => name.includes('retry'))).toEqual([]);
  });
});
