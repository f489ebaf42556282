// The ingest admission on a manual clock: simulated batches whose latency is a function of how
// many are in flight stand in for PostgreSQL's response, so each verdict is about the algorithm,
// never about this machine's speed.
import { describe, expect, it } from 'vitest';
import {
  IngestAdmission,
  type AdmissionOptions,
  type Admitted,
  type Refused,
} from '../../server/ingest-admission.ts';
/**
 * Simulated time that jumps from one timer to the next. Unlike test/helpers/manual-clock.ts it
 * lets only promise jobs run between timers (the admission does no I/O): tens of thousands of
 * simulated batches per test stay cheap on a busy machine.
 */
class SimClock {
  #now = Date.parse('2026-12-07T08:00:00Z');
  #next = 1;
  readonly #tasks = new Map<number, { at: number; task: () => void }>();
  now = (): number => this.#now;
  setTimeout = (task: () => void, ms: number): unknown => {
    const id = this.#next++;
    this.#tasks.set(id, { at: this.#now + Math.max(0, ms), task });
    return id;
  };
  clearTimeout = (handle: unknown): void => {
    this.#tasks.delete(handle as number);
  };
  /** Moves time forward by `ms`, firing due timers in order, with promise jobs run after each. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    await flush();
    for (;;) {
      let due: [number, { at: number; task: () => void }] | undefined;
      for (const entry of this.#tasks) {
        if (entry[1].at <= end && (due === undefined || entry[1].at < due[1].at)) {
          due = entry;
        }
      }
      if (due === undefined) {
        break;
      }
      this.#tasks.delete(due[0]);
      this.#now = Math.max(this.#now, due[1].at);
      due[1].task();
      await flush();
    }
    this.#now = end;
    await flush();
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
  }
}

function setup(options: Partial<AdmissionOptions>, random: () => number = () => 0.5) {
  const clock = new SimClock();
  const admission = new IngestAdmission(options, clock, random);
  return { clock, admission };
}

/**
 * Keeps `demand` batches outstanding for `ms` simulated milliseconds; each admitted batch takes
 * `latency(inFlight)` ms, inFlight counted when it starts. Returns the limits seen each 100 ms.
 */
async function drive(
  clock: SimClock,
  admission: IngestAdmission,
  demand: number,
  latency: (inFlight: number) => number,
  ms: number,
): Promise<number[]> {
  let outstanding = 0;
  const limits: number[] = [];
  for (let t = 0; t < ms; t++) {
    while (outstanding < demand) {
      outstanding++;
      void admission.admit().then((ticket) => {
        if (!ticket.admitted) {
          outstanding--;
          return;
        }
        clock.setTimeout(() => {
          ticket.done();
          outstanding--;
        }, latency(admission.stats().inFlight));
      });
    }
    await clock.advance(1);
    if (t % 100 === 99) {
      limits.push(admission.stats().limit);
    }
  }
  return limits;
}

describe('IngestAdmission: the concurrency limit', () => {
  it.each<{
    name: string;
    demand: number;
    latency: (inFlight: number) => number;
    expectLimit: [number, number];
  }>([
    {
      // PostgreSQL absorbing everything: latency flat whatever the concurrency.
      name: 'grows under light load up to the maximum',
      demand: 200,
      latency: () => 10,
      expectLimit: [64, 64],
    },
    {
      // A database that serves 8 at a time: beyond that batches wait inside it.
      name: 'settles near what the database absorbs when latency rises with concurrency',
      demand: 200,
      latency: (inFlight) => 10 * Math.max(1, inFlight / 8),
      expectLimit: [8, 20],
    },
    {
      name: 'does not grow while demand is below the limit',
      demand: 3,
      latency: () => 10,
      expectLimit: [8, 8],
    },
  ])('$name', async ({ demand, latency, expectLimit }) => {
    const { clock, admission } = setup({
      minLimit: 2,
      initialLimit: 8,
      maxLimit: 64,
      queueLength: 10_000,
    });
    const limits = await drive(clock, admission, demand, latency, 4000);
    const last = limits.at(-1) ?? 0;
    expect(last).toBeGreaterThanOrEqual(expectLimit[0]);
    expect(last).toBeLessThanOrEqual(expectLimit[1]);
  });

  it('shrinks when latency rises, and grows again when it falls', async () => {
    const { clock, admission } = setup({ initialLimit: 8, maxLimit: 64, queueLength: 10_000 });
    const start = clock.now();
    // For 2 s from the third second another instance (or a vacuum) loads the database: every
    // batch is 6× slower.
    const slow = (at: number) => at - start >= 3000 && at - start < 5000;
    const limits = await drive(clock, admission, 200, () => (slow(clock.now()) ? 60 : 10), 9000);
    const before = limits[29] ?? 0;
    const during = limits[49] ?? 0;
    const after = limits[89] ?? 0;
    expect(before).toBe(64);
    expect(during).toBeLessThan(before / 2);
    expect(after).toBeGreaterThan(during);
  });

  it('never leaves its bounds', async () => {
    const { clock, admission } = setup({ minLimit: 3, initialLimit: 5, maxLimit: 6 });
    let flip = 0;
    await drive(clock, admission, 50, () => (flip++ % 7 === 0 ? 200 : 5), 3000);
    const { limit } = admission.stats();
    expect(limit).toBeGreaterThanOrEqual(3);
    expect(limit).toBeLessThanOrEqual(6);
  });

  it('refuses nonsense settings', () => {
    const clock = { now: () => 0, setTimeout: () => 0, clearTimeout: () => undefined };
    expect(() => new IngestAdmission({ minLimit: 0 }, clock)).toThrow(RangeError);
    expect(() => new IngestAdmission({ minLimit: 5, maxLimit: 4 }, clock)).toThrow(RangeError);
    expect(() => new IngestAdmission({ latencyTolerance: 1 }, clock)).toThrow(RangeError);
    expect(() => new IngestAdmission({ decrease: 1 }, clock)).toThrow(RangeError);
  });
});

describe('IngestAdmission: the queue', () => {
  const fixed = { minLimit: 2, initialLimit: 2, maxLimit: 2 };

  it('lets a queued batch in, first come first served, when a place frees', async () => {
    const { clock, admission } = setup({ ...fixed, queueLength: 10, queueWaitMs: 1000 });
    const running = (await Promise.all([admission.admit(), admission.admit()])) as Admitted[];
    const order: string[] = [];
    const third = admission.admit().then((t) => (order.push('third'), t));
    const fourth = admission.admit().then((t) => (order.push('fourth'), t));
    await clock.advance(500);
    expect(order).toEqual([]);
    expect(admission.stats()).toMatchObject({ inFlight: 2, queued: 2 });
    running[0]?.done();
    running[0]?.done(); // a second done() is ignored
    await clock.advance(0);
    expect(order).toEqual(['third']);
    expect((await third).admitted).toBe(true);
    running[1]?.done();
    expect((await fourth).admitted).toBe(true);
    expect(order).toEqual(['third', 'fourth']);
    expect(admission.stats()).toMatchObject({ inFlight: 2, queued: 0 });
  });

  it.each<{ name: string; queueLength: number; waitMs: number; advance: number; expected: string }>(
    [
      {
        name: 'still waiting just before the deadline',
        queueLength: 5,
        waitMs: 1000,
        advance: 999,
        expected: 'waiting',
      },
      {
        name: 'refused at the deadline',
        queueLength: 5,
        waitMs: 1000,
        advance: 1000,
        expected: 'queue-deadline',
      },
      {
        name: 'refused at once when the queue is full',
        queueLength: 0,
        waitMs: 1000,
        advance: 0,
        expected: 'queue-full',
      },
    ],
  )('$name', async ({ queueLength, waitMs, advance, expected }) => {
    const { clock, admission } = setup({ ...fixed, queueLength, queueWaitMs: waitMs });
    await admission.admit();
    await admission.admit();
    let outcome = 'waiting';
    void admission.admit().then((t) => {
      outcome = t.admitted ? 'admitted' : t.reason;
    });
    await clock.advance(advance);
    expect(outcome).toBe(expected);
  });

  it('refuses at once a batch that could not get a place within the deadline at the measured rate', async () => {
    const { clock, admission } = setup({ ...fixed, queueLength: 1000, queueWaitMs: 2000 });
    // 2 places, 100 ms each: 20 batches a second.
    await drive(clock, admission, 2, () => 100, 5050);
    expect(admission.stats().inFlight).toBe(2);
    const outcomes: string[] = [];
    for (let i = 0; i < 60; i++) {
      void admission.admit().then((t) => outcomes.push(t.admitted ? 'admitted' : t.reason));
    }
    await clock.advance(0);
    // 2 s at 20/s is about 40 waiting; the rest are told at once.
    expect(admission.stats().queued).toBeGreaterThanOrEqual(38);
    expect(admission.stats().queued).toBeLessThanOrEqual(41);
    expect(outcomes.every((o) => o === 'queue-full')).toBe(true);
  });
});

describe('IngestAdmission: Retry-After', () => {
  /** One place, 100 ms a batch for 5 s: 10 batches a second; then the place is held. */
  async function measuredAtTenPerSecond(random: () => number, maxRetryAfterSeconds = 600) {
    const { clock, admission } = setup(
      { minLimit: 1, initialLimit: 1, maxLimit: 1, queueLength: 0, maxRetryAfterSeconds },
      random,
    );
    // The last batch of the drive is still running: one in flight.
    await drive(clock, admission, 1, () => 100, 5150);
    expect(admission.stats().inFlight).toBe(1);
    expect(admission.stats().drainRate).toBeCloseTo(10, 0);
    const refusals = async (n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        out.push(((await admission.admit()) as Refused).retryAfterSeconds);
      }
      return out;
    };
    return { clock, admission, refusals };
  }

  it.each<{ name: string; random: number; index: number; expected: number }>([
    // Slot k is (1 in flight + k earlier refusals) / 10 per second from now.
    { name: 'the first refusal: at least a second', random: 0.5, index: 0, expected: 1 },
    { name: 'slot 1.0 s', random: 0.5, index: 9, expected: 1 },
    { name: 'slot 1.5 s rounded down', random: 0.9, index: 14, expected: 1 },
    { name: 'slot 1.5 s rounded up', random: 0.1, index: 14, expected: 2 },
    { name: 'slot 10 s', random: 0.5, index: 99, expected: 10 },
    { name: 'slot 30 s', random: 0.99, index: 299, expected: 30 },
  ])('$name', async ({ random, index, expected }) => {
    const { refusals } = await measuredAtTenPerSecond(() => random);
    const given = await refusals(index + 1);
    expect(given[index]).toBe(expected);
  });

  it('never tells a device to wait longer than the drain of everything ahead of it', async () => {
    let seed = 7;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const { admission, refusals } = await measuredAtTenPerSecond(random);
    const given = await refusals(500);
    given.forEach((seconds, k) => {
      const drainNeeds = (1 + k) / 10;
      expect(seconds).toBeLessThanOrEqual(Math.ceil(drainNeeds));
      expect(seconds).toBeGreaterThanOrEqual(Math.max(1, Math.floor(drainNeeds)));
    });
    // Spread: each second of the drain gets about as many devices as it can take (10).
    const perSecond = new Map<number, number>();
    for (const s of given) {
      perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
    }
    expect(
      Math.max(...[...perSecond.entries()].filter(([s]) => s > 1).map(([, n]) => n)),
    ).toBeLessThanOrEqual(18);
    expect(admission.stats()).toMatchObject({ refused: 500, longestRetryAfterSeconds: 50 });
  });

  it('forgets slots whose time has passed', async () => {
    const { clock, admission, refusals } = await measuredAtTenPerSecond(() => 0.5);
    await refusals(100);
    await clock.advance(20_000);
    expect((await admission.admit()).admitted).toBe(true);
    // Nothing finished in the rate window: the last rate measured (10/s) stands in, and the
    // 100 slots promised earlier have passed.
    expect(admission.stats().drainRate).toBeNull();
    expect(await refusals(15)).toEqual(Array.from({ length: 15 }, () => 1));
    expect(await refusals(10)).toEqual(Array.from({ length: 10 }, () => 2));
  });

  it('measures a storm after a quiet spell from its own start, not over an empty window', async () => {
    const { clock, admission, refusals } = await measuredAtTenPerSecond(() => 0.5);
    // The weekend: nothing for an hour, then the storm finishes a batch every 100 ms again.
    await clock.advance(3_600_000);
    await drive(clock, admission, 1, () => 100, 1050);
    expect(admission.stats().drainRate).toBeGreaterThan(9);
    expect(admission.stats().drainRate).toBeLessThan(12);
    // Slot 1 s for the batch in flight and 9 more; not 5× longer as over a 5 s window.
    const given = await refusals(20);
    expect(Math.max(...given)).toBe(2);
  });

  it('takes the last full window as a floor while a storm is young', async () => {
    const { clock, admission, refusals } = await measuredAtTenPerSecond(() => 0.5);
    await clock.advance(3_600_000);
    // The first second of a storm: the server is busy taking requests in, batches finish slowly.
    await drive(clock, admission, 1, () => 1000, 1100);
    const given = await refusals(20);
    expect(Math.max(...given)).toBe(2);
  });

  it('is capped', async () => {
    const { refusals } = await measuredAtTenPerSecond(() => 0.5, 5);
    const given = await refusals(200);
    expect(Math.max(...given)).toBe(5);
  });

  it('is not lowered by devices returning slower than the places could take them', async () => {
    // The failure this guards against: counted as batches finished a second, the rate is the
    // pace refused devices return at, which is the pace they were promised, and a storm once
    // promised slow slots stays slow to the end.
    const { clock, admission, refusals } = await measuredAtTenPerSecond(() => 0.5);
    await clock.advance(200); // the batch in flight finishes
    for (let n = 0; n < 20; n++) {
      // A batch every 500 ms, 100 ms each: a place is free most of the time.
      const ticket = (await admission.admit()) as Admitted;
      await clock.advance(100);
      ticket.done();
      await clock.advance(400);
    }
    const held = (await admission.admit()) as Admitted;
    // Planned at the 10 a second the place gives, not the 2 a second that came.
    const given = await refusals(20);
    expect(Math.max(...given)).toBe(2);
    held.done();
  });

  it("plans with the best of the last windows while a storm's first seconds measure low", async () => {
    const { clock, admission, refusals } = await measuredAtTenPerSecond(() => 0.5);
    // Taking a storm in, this process finishes batches 5× slower, for longer than the window.
    await drive(clock, admission, 1, () => 500, 6000);
    expect(admission.stats().drainRate).toBeCloseTo(2, 0);
    const given = await refusals(20);
    expect(Math.max(...given)).toBe(2);
  });

  it('follows a database that became slower for good once the older windows have passed', async () => {
    const { clock, admission } = setup(
      {
        minLimit: 1,
        initialLimit: 1,
        maxLimit: 1,
        queueLength: 0,
        rateWindowMs: 1000,
        minBusyFinishes: 1,
      },
      () => 0.5,
    );
    await drive(clock, admission, 1, () => 100, 3050); // 10 a second
    // Then 1 a second for good: longer than the 12 windows of 1 s kept.
    await drive(clock, admission, 1, () => 1000, 15_050);
    expect(admission.stats().drainRate).toBeCloseTo(1, 0);
    if (admission.stats().inFlight === 0) {
      await admission.admit(); // the place is taken, as in a storm
    }
    const given: number[] = [];
    for (let i = 0; i < 5; i++) {
      given.push(((await admission.admit()) as Refused).retryAfterSeconds);
    }
    // Slot k is (1 in flight + k) / 1 a second: 1, 2, 3, 4, 5 s.
    expect(given).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('IngestAdmission: refusing before the body is read', () => {
  it('has no refusal while a place is free or the queue has room', async () => {
    const { admission } = setup({ minLimit: 1, initialLimit: 1, maxLimit: 1, queueLength: 1 });
    expect(admission.refuseNow()).toBeNull();
    await admission.admit(); // the place
    expect(admission.refuseNow()).toBeNull();
    void admission.admit(); // the queue's one room
    expect(admission.refuseNow()).toMatchObject({ admitted: false, reason: 'queue-full' });
    expect(admission.stats().refused).toBe(1);
  });

  it('counts batches still being read as queued ahead', async () => {
    const { admission } = setup({ minLimit: 1, initialLimit: 1, maxLimit: 1, queueLength: 3 });
    await admission.admit(); // the place
    expect(admission.refuseNow(2)).toBeNull(); // two arriving, room for a third
    expect(admission.refuseNow(3)).toMatchObject({ admitted: false, reason: 'queue-full' });
  });
});
