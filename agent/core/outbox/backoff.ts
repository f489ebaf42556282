// Retry timing between failed sends. Full jitter (a uniformly random delay between 0 and the
// exponential ceiling, as in AWS's "Exponential Backoff and Jitter") spreads 5,000 laptops
// that all lost the server at once, so they do not come back in lock-step on Monday morning.

/** Back-off settings: the first ceiling, the largest ceiling, and the longest Retry-After obeyed. */
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  maxRetryAfterMs: number;
}

/** 30 s doubling to 1 h; a server may ask for up to a day. */
export const DEFAULT_BACKOFF: BackoffOptions = {
  baseMs: 30_000,
  capMs: 60 * 60_000,
  maxRetryAfterMs: 24 * 60 * 60_000,
};

/** Up to this fraction of a server's Retry-After is added at random. */
export const RETRY_AFTER_JITTER = 0.1;

/** Delay before retrying after `failures` consecutive failures (≥ 1): random in [0, ceiling). */
export function backoffDelayMs(
  failures: number,
  options: BackoffOptions,
  random: () => number,
): number {
  // The exponent is clamped so 2 ** n cannot overflow to Infinity after weeks offline.
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.min(failures - 1, 52));
  return Math.floor(random() * ceiling);
}

/**
 * Parses an HTTP Retry-After value (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) into
 * milliseconds from `nowMs`; undefined when absent or unparseable.
 */
export function parseRetryAfter(
  value: string | null | undefined,
  nowMs: number,
): number | undefined {
  if (value === null || value === undefined) {
    return undefined;
  }
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    return Number(text) * 1000;
  }
  // An HTTP-date always names a weekday and "GMT"; demanding both keeps Date.parse from
  // accepting the odd strings it is lenient about.
  if (!/^[A-Za-z]{3},? .*GMT$/.test(text)) {
    return undefined;
  }
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** What a RetrySchedule has to remember across a restart. */
export interface RetryState {
  /** Consecutive failures since the last success. */
  failures: number;
  /** Earliest time (ms since the epoch) of the next attempt; null: at once. */
  nextAt: number | null;
}

/**
 * When the next send may happen, given the failures so far. In memory; the outbox keeps its
 * state() in a file so that a restart neither forgets a server's Retry-After nor starts the
 * exponential back-off over (a crash-looping fleet would otherwise retry at full rate).
 */
export class RetrySchedule {
  #options: BackoffOptions;
  #random: () => number;
  #now: () => number;
  #failures = 0;
  #nextAt: number | null = null;

  constructor(options: BackoffOptions, random: () => number, now: () => number) {
    if (!(options.baseMs > 0 && options.capMs >= options.baseMs)) {
      throw new RangeError('back-off needs 0 < baseMs <= capMs');
    }
    this.#options = options;
    this.#random = random;
    this.#now = now;
  }

  /** The state to keep across a restart. */
  state(): RetryState {
    return { failures: this.#failures, nextAt: this.#nextAt };
  }

  /** Takes up a state kept from before a restart (nextAttemptAt() still clamps its time). */
  restore(state: RetryState): void {
    this.#failures = state.failures;
    this.#nextAt = state.nextAt;
  }

  /** Consecutive failures since the last success. */
  get failures(): number {
    return this.#failures;
  }

  /**
   * The earliest time of the next attempt, or null when a send may happen now. A stored
   * time further ahead than any delay we could have chosen means the clock went backwards;
   * it is clamped so a clock change cannot silence a device for days.
   */
  nextAttemptAt(): number | null {
    if (this.#nextAt === null) {
      return null;
    }
    const longest = Math.max(this.#options.capMs, this.#options.maxRetryAfterMs);
    return Math.min(this.#nextAt, this.#now() + longest);
  }

  /** Whether a send may happen now. */
  isDue(): boolean {
    const at = this.nextAttemptAt();
    return at === null || this.#now() >= at;
  }

  /**
   * Records a failed send. A server's Retry-After replaces the exponential back-off: a busy
   * server that answers is not an outage, and it has already spread its devices over the time
   * its drain needs (server/ingest-admission.ts), so waiting for the back-off's ceiling instead
   * would leave it idle. Up to a tenth more is added at random, so devices given the same
   * second do not return in lock-step; never less than asked. A Retry-After of 0 (or none)
   * gets the jittered back-off, so a confused server cannot make the fleet retry in a loop.
   */
  recordFailure(retryAfterMs?: number): number {
    this.#failures++;
    let delay: number;
    if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs > 0) {
      const asked = Math.min(retryAfterMs, this.#options.maxRetryAfterMs);
      delay = Math.min(
        this.#options.maxRetryAfterMs,
        asked + Math.floor(this.#random() * asked * RETRY_AFTER_JITTER),
      );
    } else {
      delay = backoffDelayMs(this.#failures, this.#options, this.#random);
    }
    this.#nextAt = this.#now() + delay;
    return this.#nextAt;
  }

  /** Records a successful send: the next one may happen at once. */
  recordSuccess(): void {
    this.#failures = 0;
    this.#nextAt = null;
  }
}
