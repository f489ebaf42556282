// Bounds the password checks one server process runs at once. A sign-in scrypt holds 128 MiB and
// a core for a noticeable time; unbounded, a burst of guesses multiplies both (a burst of 100 once
// took the server from 196 to 720 MB and answers up to 42 s). Beyond `concurrency` checks, up to
// `queueLimit` more wait their turn; past that the sign-in is answered 429 at once, costing
// nothing. Per process on purpose: memory and cores are per process. The guess counts that stop
// an attacker live in PostgreSQL (login-limits.ts), shared by every instance.

/** A place in the gate: run work in turn, then leave (always, even when the work was skipped). */
export interface GatePlace {
  /** Waits for a free slot, runs `work` in it and frees the slot. */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Gives the place back. Idempotent. */
  leave(): void;
}

/** A counting gate: `concurrency` running, `queueLimit` waiting, everyone else turned away. */
export class HashGate {
  private running = 0;
  private places = 0;
  private readonly waiting: (() => void)[] = [];

  readonly concurrency: number;
  readonly queueLimit: number;

  constructor(concurrency: number, queueLimit: number) {
    this.concurrency = concurrency;
    this.queueLimit = queueLimit;
  }

  /** A place in the gate, or null when it is full (the caller answers "busy"). */
  tryEnter(): GatePlace | null {
    if (this.places >= this.concurrency + this.queueLimit) {
      return null;
    }
    this.places++;
    let left = false;
    return {
      run: async (work) => {
        await this.acquire();
        try {
          return await work();
        } finally {
          this.release();
        }
      },
      leave: () => {
        if (!left) {
          left = true;
          this.places--;
        }
      },
    };
  }

  private async acquire(): Promise<void> {
    if (this.running < this.concurrency) {
      this.running++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next === undefined) {
      this.running--;
    } else {
      next(); // the slot passes straight to the next in line
    }
  }
}

/** Two checks at a time (256 MiB of scrypt at most), sixteen waiting. */
export const DEFAULT_HASH_GATE = { concurrency: 2, queueLimit: 16 } as const;
