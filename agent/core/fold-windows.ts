// Folding repeated reports into one event per window, for the service's rate-limited events (USB
// decisions, the tray's idle-lock failures): a local client or a pupil repeating something
// without end must not flood the outbox. The caller sends the first report of a key at once and
// opens a window; repeats within it are counted, and when it ends the count goes out as one
// event and the next window starts at once (still folding); a window that ends with nothing
// folded closes. stop() sends every count still held, so a clean stop loses none.

/** Timers the folding uses; injected so tests move time themselves. */
export interface EventTimers {
  setTimeout(task: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Node's timers, unreferenced: these timers never keep a stopping process alive. */
export const realTimers: EventTimers = {
  setTimeout: (task, ms) => {
    const timer = setTimeout(task, ms);
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

/** What the windows are built from. */
export interface FoldWindowsOptions<Key extends string, Item> {
  now(): Date;
  windowMs: number;
  timers: EventTimers;
  /** Sends one window's count: the latest item folded, how many, and when the first came. */
  flush(key: Key, latest: Item, count: number, firstAt: string): Promise<void>;
}

interface Window<Item> {
  endsAt: number;
  folded: number;
  latest: Item | null;
  firstAt: string | null;
}

/** Open windows by key, with one timer for whichever ends first. */
export class FoldWindows<Key extends string, Item> {
  readonly #options: FoldWindowsOptions<Key, Item>;
  readonly #windows = new Map<Key, Window<Item>>();
  #timer: unknown = null;
  #timerAt: number | null = null;
  #stopped = false;

  constructor(options: FoldWindowsOptions<Key, Item>) {
    this.#options = options;
  }

  /** Windows open now. */
  get size(): number {
    return this.#windows.size;
  }

  /** Counts `item` into the open window of `key`; false when it has none (or after stop). */
  fold(key: Key, item: Item, at: string): boolean {
    const window = this.#windows.get(key);
    if (window === undefined || this.#stopped) {
      return false;
    }
    window.folded++;
    window.latest = item;
    window.firstAt ??= at;
    return true;
  }

  /** Opens a window for `key`, whose first item the caller sends (or folds) itself. */
  open(key: Key): void {
    if (this.#stopped) {
      return;
    }
    const endsAt = this.#options.now().getTime() + this.#options.windowMs;
    this.#windows.set(key, { endsAt, folded: 0, latest: null, firstAt: null });
    this.#arm();
  }

  /** Sends the counts of windows that have ended. */
  async flushDue(): Promise<void> {
    await this.#flushDue(this.#options.now().getTime());
    this.#arm();
  }

  /** Sends every count now and stops the timer; nothing folds after it. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#disarm();
    await this.#flushDue(Number.POSITIVE_INFINITY);
  }

  async #flushDue(now: number): Promise<void> {
    for (const [key, window] of this.#windows) {
      if (window.endsAt > now) {
        continue;
      }
      if (window.folded === 0 || window.latest === null || window.firstAt === null) {
        this.#windows.delete(key);
        continue;
      }
      const { latest, folded, firstAt } = window;
      // Still repeating: the next window starts now, still folding.
      window.endsAt = now + this.#options.windowMs;
      window.folded = 0;
      window.latest = null;
      window.firstAt = null;
      await this.#options.flush(key, latest, folded, firstAt);
    }
  }

  #arm(): void {
    if (this.#stopped) {
      return;
    }
    let next: number | null = null;
    for (const window of this.#windows.values()) {
      next = next === null ? window.endsAt : Math.min(next, window.endsAt);
    }
    if (next === this.#timerAt) {
      return;
    }
    this.#disarm();
    if (next === null) {
      return;
    }
    this.#timerAt = next;
    const wait = Math.max(0, next - this.#options.now().getTime());
    this.#timer = this.#options.timers.setTimeout(() => {
      this.#timer = null;
      this.#timerAt = null;
      void this.flushDue();
    }, wait);
  }

  #disarm(): void {
    if (this.#timer !== null) {
      this.#options.timers.clearTimeout(this.#timer);
    }
    this.#timer = null;
    this.#timerAt = null;
  }
}
