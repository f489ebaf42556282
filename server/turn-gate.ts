// How many requests one turn of the event loop may start to read and check. Node handles every
// socket that is ready in one turn: when a storm's thousands of requests arrive together, parsing
// and checking all of them (about a millisecond each) holds the turn for seconds, and the
// answers PostgreSQL sends for the batches already admitted wait behind them, so the database
// idles while this process is busy taking requests in. A gate lets a few through each turn and
// the rest in the turns after, first come first served, so every turn also serves the database.

/** Lets `perTurn` callers through each turn; the rest wait, in order, for the turns after. */
export class TurnGate {
  readonly #perTurn: number;
  readonly #nextTurn: () => Promise<void>;
  readonly #waiting: (() => void)[] = [];
  #used = 0;
  #turnEndScheduled = false;

  /** `nextTurn` resolves in the next turn of the loop (setImmediate; injected for tests). */
  constructor(perTurn: number, nextTurn: () => Promise<void>) {
    if (!(Number.isInteger(perTurn) && perTurn >= 1)) {
      throw new RangeError('a turn gate lets at least one caller through each turn');
    }
    this.#perTurn = perTurn;
    this.#nextTurn = nextTurn;
  }

  /** Callers waiting for a later turn. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Resolves in this turn if it has room and nobody is waiting, else in a later one. */
  pass(): Promise<void> {
    this.#scheduleTurnEnd();
    if (this.#waiting.length === 0 && this.#used < this.#perTurn) {
      this.#used++;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
    });
  }

  #scheduleTurnEnd(): void {
    if (this.#turnEndScheduled) {
      return;
    }
    this.#turnEndScheduled = true;
    void this.#nextTurn().then(() => {
      this.#turnEndScheduled = false;
      this.#used = 0;
      while (this.#used < this.#perTurn && this.#waiting.length > 0) {
        this.#used++;
        this.#waiting.shift()?.();
      }
      if (this.#used > 0) {
        this.#scheduleTurnEnd();
      }
    });
  }
}
