// A clock and timers that move only when a test says so: time-driven behaviour (windows,
// expiries, polls, back-off) tested without sleeps and without depending on the machine's speed.

/** A manual clock with setTimeout/clearTimeout that fire on advance(). */
export class ManualClock {
  #now: number;
  #next = 1;
  readonly #tasks = new Map<number, { at: number; task: () => void }>();

  constructor(start: string | Date) {
    this.#now = new Date(start).getTime();
  }

  /** The clock's time. */
  now = (): Date => new Date(this.#now);

  /** Timers in the shape the guard's modules take. */
  readonly timers = {
    setTimeout: (task: () => void, ms: number): unknown => {
      const id = this.#next++;
      this.#tasks.set(id, { at: this.#now + Math.max(0, ms), task });
      return id;
    },
    clearTimeout: (handle: unknown): void => {
      this.#tasks.delete(handle as number);
    },
  };

  /** Timers waiting to fire. */
  pending(): number {
    return this.#tasks.size;
  }

  /** When the earliest timer fires, or null. */
  nextAt(): Date | null {
    const ats = [...this.#tasks.values()].map((t) => t.at);
    return ats.length === 0 ? null : new Date(Math.min(...ats));
  }

  /**
   * Moves time forward by `ms`, firing due timers in order (with the clock at each one's time),
   * and lets the promise jobs they start run between them.
   */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      const due = [...this.#tasks.entries()]
        .filter(([, t]) => t.at <= end)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (due === undefined) {
        break;
      }
      this.#tasks.delete(due[0]);
      this.#now = Math.max(this.#now, due[1].at);
      due[1].task();
      await settle();
    }
    this.#now = end;
    await settle();
  }

  /** Sets the wall clock without firing timers (a clock change on the device). */
  set(to: string | Date): void {
    this.#now = new Date(to).getTime();
  }
}

/** Lets queued promise jobs and I/O callbacks run. */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
