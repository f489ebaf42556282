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
//
// The drain rate is what the places give when all are taken: by Little's law, places in use
// over the time a batch takes, from batches that started with every place taken. Counted as
// batches finished per second it is the rate devices happen to arrive at, not what the database
// can take: refused devices return at the pace they were promised, that pace is measured again,
// and a storm once promised slow slots drains slowly to the end with the database mostly idle
// (bench/storm.bench.ts: 5,000 devices drained at 0.29 of the steady capacity in one run).

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
  /** The drain rate is measured from batches that started with every place taken and finished within this window. */
  rateWindowMs: number;
  /** Fewest such batches that make a measure. */
  minBusyFinishes: number;
  /** Retry-After plans with the highest rate of this many of the last windows that measured one. */
  peakWindows: number;
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
  minBusyFinishes: 5,
  peakWindows: 12,
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
  /**
   * Batches a second the places give when all are taken, measured over the rate window; null
   * when too few batches in it started with every place taken (the last measure then stands in).
   */
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
  /**
   * Batches that started with every place taken and finished within the rate window, oldest
   * first: when they finished, the places taken with them and how long they took.
   */
  readonly #busyFinishes: { at: number; places: number; ms: number }[] = [];
  #busyPlaces = 0;
  #busyMs = 0;
  /**
   * The highest rate measured in each of the last rate windows that measured one, newest last,
   * however long ago (a weekend): what the places gave before, when the database was not also
   * waiting for this process to take a storm's requests in.
   */
  readonly #recentPeaks: { window: number; rate: number }[] = [];
  #baselineNow = Infinity;
  #baselinePrevious = Infinity;
  #baselineWindowStart: number;
  #lastDecreaseAt = -Infinity;
  /** Slots promised to refused devices still to come, counted by the second they fall in. */
  readonly #promised = new Map<number, number>();
  #promisedCount = 0;
  #promisedPrunedAt = -Infinity;
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
    if (!(o.minBusyFinishes >= 1 && o.peakWindows >= 1)) {
      throw new RangeError('admission needs minBusyFinishes ≥ 1 and peakWindows ≥ 1');
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
    const refused = this.refuseNow();
    if (refused !== null) {
      return Promise.resolve(refused);
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

  /**
   * The refusal a batch arriving now would get at once (the queue is full, or could not give it
   * a place within the deadline at the measured rate), or null if it would get a place or a
   * place in the queue. Lets the route refuse before it reads and checks the body. `arriving`
   * batches not yet asking (being read) are counted as queued ahead of it.
   */
  refuseNow(arriving = 0): Refused | null {
    if (this.#queue.length === 0 && this.#inFlight < Math.floor(this.#limit)) {
      return null;
    }
    const rate = this.#rate();
    const ahead = this.#queue.length + arriving;
    // A batch that could not get a place within the deadline is refused now rather than after
    // holding a connection for nothing.
    const expectedWaitMs = rate === null ? 0 : ((ahead + 1) / rate) * 1000;
    if (ahead >= this.#options.queueLength || expectedWaitMs > this.#options.queueWaitMs) {
      return this.#refuse('queue-full');
    }
    return null;
  }

  /** The current figures. */
  stats(): AdmissionStats {
    const baseline = Math.min(this.#baselineNow, this.#baselinePrevious);
    return {
      limit: Math.floor(this.#limit),
      inFlight: this.#inFlight,
      queued: this.#queue.length,
      drainRate: this.#measuredRate(this.#clock.now()),
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
    // Started with every place taken: its time is what a full set of places takes per batch.
    const placesIfFull = this.#inFlight >= Math.floor(this.#limit) ? this.#inFlight : null;
    let finished = false;
    return {
      admitted: true,
      done: () => {
        if (!finished) {
          finished = true;
          this.#finish(this.#clock.now() - startedAt, placesIfFull);
        }
      },
    };
  }

  #finish(latencyMs: number, placesIfFull: number | null): void {
    const now = this.#clock.now();
    if (placesIfFull !== null) {
      this.#busyFinishes.push({ at: now, places: placesIfFull, ms: latencyMs });
      this.#busyPlaces += placesIfFull;
      this.#busyMs += latencyMs;
    }
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

  /**
   * Batches a second the places give when all are taken (places over the time a batch takes,
   * from batches that started with every place taken), over the rate window; null when the
   * window holds too few such batches to say.
   */
  #measuredRate(now: number): number | null {
    const from = now - this.#options.rateWindowMs;
    for (let head = this.#busyFinishes[0]; head !== undefined && head.at <= from;) {
      this.#busyPlaces -= head.places;
      this.#busyMs -= head.ms;
      this.#busyFinishes.shift();
      head = this.#busyFinishes[0];
    }
    if (this.#busyFinishes.length === 0) {
      // No drift from adding and taking away the same figures a million times.
      this.#busyPlaces = 0;
      this.#busyMs = 0;
    }
    if (this.#busyFinishes.length < this.#options.minBusyFinishes || this.#busyMs < 1) {
      return null;
    }
    const rate = (this.#busyPlaces / this.#busyMs) * 1000;
    const window = Math.floor(now / this.#options.rateWindowMs);
    const last = this.#recentPeaks.at(-1);
    if (last !== undefined && last.window === window) {
      last.rate = Math.max(last.rate, rate);
    } else {
      this.#recentPeaks.push({ window, rate });
      if (this.#recentPeaks.length > this.#options.peakWindows) {
        this.#recentPeaks.shift();
      }
    }
    return rate;
  }

  /**
   * The rate to plan with: the highest of the last measured windows, the one now included. The
   * first seconds of a storm measure low (this process is taking in thousands of requests while
   * few batches finish), and slots promised at that rate would leave the database idle once the
   * intake is done; a slot promised too early costs its device one more request. A database that
   * became slower for good is planned at its new rate once the older windows have passed. Null
   * before any measure.
   */
  #rate(): number | null {
    const now = this.#measuredRate(this.#clock.now());
    const peak = Math.max(...this.#recentPeaks.map((p) => p.rate));
    return Number.isFinite(peak) ? Math.max(peak, now ?? 0) : now;
  }

  /** Slots promised that are still to come (of the current second, all of them). */
  #promisedAhead(now: number): number {
    const second = Math.floor(now / 1000);
    if (second !== this.#promisedPrunedAt) {
      this.#promisedPrunedAt = second;
      for (const [at, count] of this.#promised) {
        if (at < second) {
          this.#promised.delete(at);
          this.#promisedCount -= count;
        }
      }
    }
    return this.#promisedCount;
  }

  /**
   * Refuses with a slot: after everything in flight, queued and already promised has drained at
   * the rate measured now. A device told to come back earlier than it was promised and not yet
   * returned still counts, so slots follow the rate as it is measured again and none is given
   * twice. The second count is rounded up or down at random in proportion, so devices in the same
   * second are spread over its neighbours and the average is exact.
   */
  #refuse(reason: Refused['reason']): Refused {
    const now = this.#clock.now();
    // After a quiet spell (a storm after the weekend) the last rate measured is the best guess;
    // before any, assume each place frees once a second. The next measurement replaces either.
    const rate = this.#rate() ?? Math.max(1, Math.floor(this.#limit));
    const ahead = this.#inFlight + this.#queue.length + this.#promisedAhead(now);
    const slot = now + (ahead / rate) * 1000;
    const second = Math.floor(slot / 1000);
    this.#promised.set(second, (this.#promised.get(second) ?? 0) + 1);
    this.#promisedCount++;
    const seconds = (slot - now) / 1000;
    const whole = Math.floor(seconds);
    const rounded = whole + (this.#random() < seconds - whole ? 1 : 0);
    const retryAfterSeconds = Math.min(this.#options.maxRetryAfterSeconds, Math.max(1, rounded));
    this.#refused++;
    this.#longestRetryAfter = Math.max(this.#longestRetryAfter, retryAfterSeconds);
    return { admitted: false, reason, retryAfterSeconds };
  }
}
