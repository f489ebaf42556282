// Admission for report ingest: how many batches one server instance lets into PostgreSQL at
// once, who waits, and when a refused device should come back.
//
// A fixed limit is wrong twice over: set for one machine it starves a bigger database, and it
// cannot see the other instances sharing the same PostgreSQL. The database tells us what it
// absorbs through the latency of each batch, so the limit follows that (additive increase while
// latency stays near the lowest recently seen, multiplicative decrease once batches queue inside
// PostgreSQL). Work beyond the limit waits in a short FIFO queue instead of being refused, so a
// storm keeps the database busy; only what the queue cannot hold in its deadline is refused, and
// then with a Retry-After computed from the measured drain rate and the work already promised,
// so each refused device is given its own slot: none is told to wait longer than the drain needs,
// and they do not all return in the same second.

/** Settings; see defaultAdmissionOptions. */
export interface AdmissionOptions {
  /** The concurrency limit stays within [minLimit, maxLimit] and starts at initialLimit. */
  minLimit: number;
  maxLimit: number;
  initialLimit: number;
  /** Batches that may wait for a place; a batch beyond them is refused at once. */
  queueLength: number;
  /** Longest a batch waits for a place before it is refused (the device's own timeout is 30 s). */
  queueWaitMs: number;
  /** A batch slower than this multiple of the baseline latency means PostgreSQL is queueing. */
  latencyTolerance: number;
  /** Factor the limit is multiplied by on a slow batch (at most once per round trip). */
  decrease: number;
  /** The baseline is the lowest latency seen in the last one to two windows of this length. */
  baselineWindowMs: number;
  /** The drain rate counts batches finished within this window. */
  rateWindowMs: number;
  /** Upper bound of any Retry-After given. */
  maxRetryAfterSeconds: number;
}

export const defaultAdmissionOptions: AdmissionOptions = {
  minLimit: 2,
  maxLimit: 64,
  initialLimit: 8,
  queueLength: 2000,
  queueWaitMs: 10_000,
  latencyTolerance: 2,
  decrease: 0.9,
  baselineWindowMs: 30_000,
  rateWindowMs: 5_000,
  maxRetryAfterSeconds: 600,
};

/** Time and timers, injected so tests move time by hand. */
export interface AdmissionClock {
  /** Milliseconds on a clock that does not go backwards. */
  now(): number;
  setTimeout(task: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** An admitted batch: call done() once it has finished, whether it succeeded or not. */
export interface Admitted {
  admitted: true;
  done(): void;
}

/** A refused batch and when its device should try again. */
export interface Refused {
  admitted: false;
  reason: 'queue-full' | 'queue-deadline';
  retryAfterSeconds: number;
}

/** What the admission is doing now, for logs and benchmarks. */
export interface AdmissionStats {
  limit: number;
  inFlight: number;
  queued: number;
  /** Batches finished per second over the rate window; null before any finished. */
  drainRate: number | null;
  baselineMs: number | null;
  admitted: number;
  refused: number;
  longestRetryAfterSeconds: number;
}

interface Waiter {
  resolve(ticket: Admitted | Refused): void;
  timer: unknown;
}

/** Adaptive concurrency limit, deadline queue and drain-derived Retry-After for one instance. */
export class IngestAdmission {
  readonly #options: AdmissionOptions;
  readonly #clock: AdmissionClock;
  readonly #random: () => number;
  #limit: number;
  #inFlight = 0;
  readonly #queue: Waiter[] = [];
  /** Finish times within the rate window, oldest first. */
  readonly #finished: number[] = [];
  /** When the finishes now in the rate window began (after the last gap that emptied it). */
  #busySince: number | null = null;
  /** The last rate measured over a full window, for a storm that arrives after a quiet spell. */
  #lastRate: number | null = null;
  #baselineNow = Infinity;
  #baselinePrevious = Infinity;
  #baselineWindowStart: number;
  #lastDecreaseAt = -Infinity;
  /** The slot after the last one promised to a refused device. */
  #promisedUntil = -Infinity;
  #admitted = 0;
  #refused = 0;
  #longestRetryAfter = 0;

  constructor(
    options: Partial<AdmissionOptions>,
    clock: AdmissionClock,
    random: () => number = Math.random,
  ) {
    const o = { ...defaultAdmissionOptions, ...options };
    if (!(o.minLimit >= 1 && o.maxLimit >= o.minLimit)) {
      throw new RangeError('admission needs 1 <= minLimit <= maxLimit');
    }
    if (!(o.queueLength >= 0 && o.queueWaitMs >= 0 && o.latencyTolerance > 1)) {
      throw new RangeError('admission needs a queue ≥ 0 and a latency tolerance > 1');
    }
    if (!(o.decrease > 0 && o.decrease < 1 && o.rateWindowMs > 0 && o.baselineWindowMs > 0)) {
      throw new RangeError('admission needs 0 < decrease < 1 and positive windows');
    }
    this.#options = o;
    this.#clock = clock;
    this.#random = random;
    this.#limit = Math.min(o.maxLimit, Math.max(o.minLimit, o.initialLimit));
    this.#baselineWindowStart = clock.now();
  }

  /**
   * Asks for a place: at once when the limit allows, after a wait in the queue, or a refusal
   * with the number of seconds the device should wait.
   */
  admit(): Promise<Admitted | Refused> {
    if (this.#queue.length === 0 && this.#inFlight < Math.floor(this.#limit)) {
      return Promise.resolve(this.#start());
    }
    const rate = this.#drainRate();
    // A batch that could not get a place within the deadline is refused now rather than after
    // holding a connection for nothing.
    const expectedWaitMs = rate === null ? 0 : ((this.#queue.length + 1) / rate) * 1000;
    if (
      this.#queue.length >= this.#options.queueLength ||
      expectedWaitMs > this.#options.queueWaitMs
    ) {
      return Promise.resolve(this.#refuse('queue-full'));
    }
    return new Promise((resolve) => {
      const waiter: Waiter = {
        resolve,
        timer: this.#clock.setTimeout(() => {
          const at = this.#queue.indexOf(waiter);
          if (at >= 0) {
            this.#queue.splice(at, 1);
            resolve(this.#refuse('queue-deadline'));
          }
        }, this.#options.queueWaitMs),
      };
      this.#queue.push(waiter);
    });
  }

  /** The current figures. */
  stats(): AdmissionStats {
    const rate = this.#drainRate();
    const baseline = Math.min(this.#baselineNow, this.#baselinePrevious);
    return {
      limit: Math.floor(this.#limit),
      inFlight: this.#inFlight,
      queued: this.#queue.length,
      drainRate: rate,
      baselineMs: Number.isFinite(baseline) ? baseline : null,
      admitted: this.#admitted,
      refused: this.#refused,
      longestRetryAfterSeconds: this.#longestRetryAfter,
    };
  }

  #start(): Admitted {
    this.#inFlight++;
    this.#admitted++;
    const startedAt = this.#clock.now();
    let finished = false;
    return {
      admitted: true,
      done: () => {
        if (!finished) {
          finished = true;
          this.#finish(this.#clock.now() - startedAt);
        }
      },
    };
  }

  #finish(latencyMs: number): void {
    const now = this.#clock.now();
    this.#prune(now);
    if (this.#finished.length === 0) {
      this.#busySince = now;
    }
    this.#finished.push(now);
    if (now - this.#baselineWindowStart >= this.#options.baselineWindowMs) {
      // The baseline forgets old minima, so a database that became slower for good (bigger
      // tables, another instance's load) is not judged against a latency it can no longer give.
      this.#baselinePrevious = this.#baselineNow;
      this.#baselineNow = Infinity;
      this.#baselineWindowStart = now;
    }
    this.#baselineNow = Math.min(this.#baselineNow, latencyMs);
    const baseline = Math.min(this.#baselineNow, this.#baselinePrevious);
    const threshold = this.#options.latencyTolerance * baseline;
    if (latencyMs > threshold) {
      // Batches started before the last decrease finish slow too: one cut per round trip.
      if (now - this.#lastDecreaseAt >= threshold) {
        this.#limit = Math.max(this.#options.minLimit, this.#limit * this.#options.decrease);
        this.#lastDecreaseAt = now;
      }
    } else if (this.#inFlight >= Math.floor(this.#limit) || this.#queue.length > 0) {
      // Grow only while the limit is what holds work back: about one place per round trip.
      this.#limit = Math.min(this.#options.maxLimit, this.#limit + 1 / this.#limit);
    }
    this.#inFlight--;
    while (this.#queue.length > 0 && this.#inFlight < Math.floor(this.#limit)) {
      const waiter = this.#queue.shift();
      if (waiter !== undefined) {
        this.#clock.clearTimeout(waiter.timer);
        waiter.resolve(this.#start());
      }
    }
  }

  /** Batches finished per second over the rate window, or null before there is a measure. */
  #drainRate(): number | null {
    const now = this.#clock.now();
    this.#prune(now);
    if (this.#busySince === null || this.#finished.length === 0) {
      return null;
    }
    // At the start of a busy spell (a storm after a quiet weekend) the window is not yet full:
    // divide by the time actually observed, or the first seconds of a storm would look slow and
    // be refused with long waits. A quarter second at least, so a handful of finishes in the
    // same instant does not look like an unbounded rate.
    const observedMs = now - this.#busySince;
    const rate =
      (this.#finished.length / Math.min(this.#options.rateWindowMs, Math.max(observedMs, 250))) *
      1000;
    if (observedMs >= this.#options.rateWindowMs) {
      this.#lastRate = rate;
      return rate;
    }
    // The first seconds of a storm understate the drain (this process is busy taking in the
    // storm's requests before their batches finish): until the window is full, the rate of the
    // last full window stands as a floor. Too short a wait costs one more request; too long
    // leaves the database idle.
    return Math.max(rate, this.#lastRate ?? 0);
  }

  #prune(now: number): void {
    const from = now - this.#options.rateWindowMs;
    while (this.#finished.length > 0 && (this.#finished[0] ?? now) <= from) {
      this.#finished.shift();
    }
  }

  /**
   * Refuses with a slot: after everything in flight and queued has drained at the measured
   * rate, and after every slot already promised, one slot (1 / rate) apart from the last. The
   * second count is rounded up or down at random in proportion, so devices in the same second
   * are spread over its neighbours and the average is exact.
   */
  #refuse(reason: Refused['reason']): Refused {
    const now = this.#clock.now();
    // After a quiet spell (a storm after the weekend) the last rate measured is the best guess;
    // before any, assume each place frees once a second. The next measurement replaces either.
    const rate = this.#drainRate() ?? this.#lastRate ?? Math.max(1, Math.floor(this.#limit));
    const drainedAt = now + ((this.#inFlight + this.#queue.length) / rate) * 1000;
    const slot = Math.max(drainedAt, this.#promisedUntil);
    this.#promisedUntil = slot + 1000 / rate;
    const seconds = (slot - now) / 1000;
    const whole = Math.floor(seconds);
    const rounded = whole + (this.#random() < seconds - whole ? 1 : 0);
    const retryAfterSeconds = Math.min(this.#options.maxRetryAfterSeconds, Math.max(1, rounded));
    this.#refused++;
    this.#longestRetryAfter = Math.max(this.#longestRetryAfter, retryAfterSeconds);
    return { admitted: false, reason, retryAfterSeconds };
  }
}
