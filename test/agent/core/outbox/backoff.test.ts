import { describe, expect, it } from 'vitest';
import {
  DEFAULT_BACKOFF,
  backoffDelayMs,
  parseRetryAfter,
} from '../../../../agent/core/outbox/index.ts';
import { RetrySchedule } from '../../../../agent/core/outbox/backoff.ts';

const options = { baseMs: 30_000, capMs: 3_600_000, maxRetryAfterMs: 86_400_000 };
const almostOne = () => 1 - Number.EPSILON;

describe('backoffDelayMs', () => {
  it('doubles the ceiling per failure up to the cap', () => {
    const ceilings = [1, 2, 3, 4, 5, 6, 7, 8, 9, 50, 10_000].map((n) =>
      backoffDelayMs(n, options, almostOne),
    );
    expect(ceilings).toEqual([
      29_999, 59_999, 119_999, 239_999, 479_999, 959_999, 1_919_999, 3_599_999, 3_599_999,
      3_599_999, 3_599_999,
    ]);
  });

  it('is full jitter: anywhere from 0 to the ceiling', () => {
    expect(backoffDelayMs(3, options, () => 0)).toBe(0);
    expect(backoffDelayMs(3, options, () => 0.25)).toBe(30_000);
    expect(backoffDelayMs(3, options, () => 0.5)).toBe(60_000);
  });

  it('spreads a crowd: 5,000 devices after 4 failures land across the window', () => {
    let seed = 42;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const delays = Array.from({ length: 5000 }, () => backoffDelayMs(4, options, random));
    const perMinute = new Map<number, number>();
    for (const delay of delays) {
      const minute = Math.floor(delay / 60_000);
      perMinute.set(minute, (perMinute.get(minute) ?? 0) + 1);
    }
    expect(Math.max(...delays)).toBeLessThan(240_000);
    expect(perMinute.size).toBe(4);
    expect(Math.max(...perMinute.values())).toBeLessThan(1400);
  });

  it('has defaults of 30 s and 1 h', () => {
    expect(DEFAULT_BACKOFF).toMatchObject({ baseMs: 30_000, capMs: 3_600_000 });
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-23T08:40:00Z');
  it.each<[string | null | undefined, number | undefined]>([
    ['120', 120_000],
    [' 0 ', 0],
    ['Mon, 23 Nov 2026 08:45:00 GMT', 300_000],
    ['Mon, 23 Nov 2026 08:00:00 GMT', 0],
    ['-5', undefined],
    ['1.5', undefined],
    ['soon', undefined],
    ['2026-11-23T08:45:00Z', undefined],
    ['', undefined],
    [null, undefined],
    [undefined, undefined],
  ])('%j → %j', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});

describe('RetrySchedule', () => {
  const clock = () => {
    const state = { now: 1_000_000 };
    return { state, now: () => state.now };
  };

  it('is due until a failure, then waits a jittered, growing, capped delay', () => {
    const { state, now } = clock();
    const schedule = new RetrySchedule(options, almostOne, now);
    expect(schedule.isDue()).toBe(true);
    expect(schedule.nextAttemptAt()).toBeNull();
    const waits: number[] = [];
    for (let i = 0; i < 10; i++) {
      waits.push(schedule.recordFailure() - state.now);
    }
    expect(waits.slice(0, 3)).toEqual([29_999, 59_999, 119_999]);
    expect(waits.at(-1)).toBe(3_599_999);
    expect(schedule.isDue()).toBe(false);
    state.now += 3_599_998;
    expect(schedule.isDue()).toBe(false);
    state.now += 1;
    expect(schedule.isDue()).toBe(true);
    schedule.recordSuccess();
    expect(schedule.failures).toBe(0);
    expect(schedule.nextAttemptAt()).toBeNull();
  });

  it.each<{
    name: string;
    random: () => number;
    failuresBefore: number;
    retryAfter: number | undefined;
    wait: number;
  }>([
    {
      name: 'waits what the server asks',
      random: () => 0,
      failuresBefore: 0,
      retryAfter: 45_000,
      wait: 45_000,
    },
    {
      name: 'and up to a tenth more at random',
      random: almostOne,
      failuresBefore: 0,
      retryAfter: 5_000,
      wait: 5_499,
    },
    { name: 'half way', random: () => 0.5, failuresBefore: 0, retryAfter: 20_000, wait: 21_000 },
    // The back-off of earlier failures (its ceiling would be 8 min by now) does not stretch a
    // busy server's short answer: the server already spread its devices over its drain.
    {
      name: 'not the back-off ceiling after failures',
      random: almostOne,
      failuresBefore: 4,
      retryAfter: 3_000,
      wait: 3_299,
    },
    {
      name: 'caps an absurd one',
      random: () => 0,
      failuresBefore: 0,
      retryAfter: 365 * 86_400_000,
      wait: 86_400_000,
    },
    {
      name: 'backs off when told 0',
      random: almostOne,
      failuresBefore: 0,
      retryAfter: 0,
      wait: 29_999,
    },
    {
      name: 'backs off without one',
      random: almostOne,
      failuresBefore: 1,
      retryAfter: undefined,
      wait: 59_999,
    },
  ])('Retry-After: $name', ({ random, failuresBefore, retryAfter, wait }) => {
    const { state, now } = clock();
    const schedule = new RetrySchedule(options, random, now);
    for (let i = 0; i < failuresBefore; i++) {
      schedule.recordFailure();
    }
    expect(schedule.recordFailure(retryAfter) - state.now).toBe(wait);
  });

  it('does not let a clock set backwards silence the device for longer than the cap', () => {
    const { state, now } = clock();
    const schedule = new RetrySchedule(options, almostOne, now);
    schedule.recordFailure();
    state.now -= 30 * 86_400_000;
    expect(schedule.nextAttemptAt()).toBe(state.now + 86_400_000);
  });

  it('refuses nonsense settings', () => {
    expect(() => new RetrySchedule({ ...options, baseMs: 0 }, Math.random, Date.now)).toThrow();
    expect(() => new RetrySchedule({ ...options, capMs: 1 }, Math.random, Date.now)).toThrow();
  });
});
