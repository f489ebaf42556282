// Runs the idle lock: reads the desktop on the machine's schedule (one timer at a time, at most
// one reading a second while warning), feeds the readings to the state machine and carries out
// what it returns. The Electron main process builds one per session with the real desktop, the
// wall clock (which sees suspends and jumps, unlike a monotonic one) and real timers.
import type { IdleDesktop, LockAttempt, LockOutcome } from './desktop.ts';
import {
  IdleLockMachine,
  type IdleAction,
  type IdleEvent,
  type IdleLockTimings,
  type IdleMachineOptions,
} from './idle-lock.ts';
import { assertNever } from '../../core/checks/define-check.ts';

/** Timers in the shape the service's modules take (test/helpers/manual-clock.ts fakes them). */
export interface Timers {
  setTimeout(task: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** What the controller tells the rest of the tray. */
export interface IdleLockListener {
  /** Show or refresh the warning with this much time left; null hides it. */
  warning(msLeft: number | null): void;
  /** The session was locked (the tray tells the service, which records `idle.locked`). */
  locked(outcome: Extract<LockOutcome, { ok: true }>): void;
  /**
   * Lock commands that failed, whether or not a fallback then worked (`locked`): never ignored.
   * The tray reports them to the service (failure-report.ts).
   */
  lockFailed(attempts: LockAttempt[], locked: boolean): void;
  /**
   * A reading that could not be taken (idle time, inhibitors): told once per new reason, not on
   * every poll, so a session without xprintidle (Wayland) does not fill the log.
   */
  readingFailed(what: 'idle' | 'inhibitors', reason: string): void;
}

/** What one controller is built from. */
export interface IdleLockControllerOptions {
  desktop: IdleDesktop;
  timings: IdleLockTimings;
  now: () => number;
  timers: Timers;
  listener: IdleLockListener;
  machine?: Partial<IdleMachineOptions>;
}

/** The idle lock of one desktop session, with start/stop. */
export class IdleLockController {
  readonly #options: IdleLockControllerOptions;
  readonly #machine: IdleLockMachine;
  #timer: unknown = null;
  #running = false;
  /** The pass in flight, so stop() can wait for it and two never overlap. */
  #pass: Promise<void> = Promise.resolve();
  /** The last failure told per reading, so each is told once until the reading works again. */
  readonly #failing = new Map<'idle' | 'inhibitors', string>();

  constructor(options: IdleLockControllerOptions) {
    this.#options = options;
    this.#machine = new IdleLockMachine(options.timings, options.machine);
  }

  /** The machine's phase, for status and tests. */
  get phase(): IdleLockMachine['phase'] {
    return this.#machine.phase;
  }

  /** Starts reading at once. */
  start(): void {
    if (!this.#running) {
      this.#running = true;
      this.#wake();
    }
  }

  /** Stops; resolves when no reading or lock is in flight. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#clear();
    await this.#pass;
  }

  /** A new policy (or a new user's exemption) applies from now. */
  setTimings(timings: IdleLockTimings): void {
    this.#enqueue(async () => {
      await this.#apply({ type: 'policy', at: this.#options.now(), timings });
    });
  }

  /** The OS said it resumed from sleep (Electron's powerMonitor `resume`). */
  resumed(): void {
    this.#enqueue(async () => {
      await this.#apply({ type: 'resume', at: this.#options.now() });
    });
  }

  #wake(): void {
    this.#enqueue(() => this.#read());
  }

  #enqueue(task: () => Promise<void>): void {
    this.#clear();
    this.#pass = this.#pass.then(async () => {
      if (this.#running) {
        await task();
        this.#schedule();
      }
    });
  }

  #clear(): void {
    if (this.#timer !== null) {
      this.#options.timers.clearTimeout(this.#timer);
      this.#timer = null;
    }
  }

  #schedule(): void {
    this.#clear();
    const ms = this.#machine.nextReadingInMs();
    if (this.#running && ms !== null) {
      this.#timer = this.#options.timers.setTimeout(() => {
        this.#timer = null;
        this.#wake();
      }, ms);
    }
  }

  async #read(): Promise<void> {
    const { desktop } = this.#options;
    if (this.#machine.phase === 'off') {
      return;
    }
    const [idle, inhibitors] = await Promise.all([desktop.readIdleMs(), desktop.readInhibitors()]);
    // A source that could not be read while another could (display requests the service could
    // not read) is told too: it counts as not held, so the user should know why nothing waits.
    this.#failed(
      'inhibitors',
      inhibitors.ok ? (inhibitors.value.unread ?? null) : inhibitors.reason,
    );
    this.#failed('idle', idle.ok ? null : idle.reason);
    if (!idle.ok) {
      // Without idle time nothing can be decided; locking blind would lock people at work.
      return;
    }
    await this.#apply({
      type: 'reading',
      at: this.#options.now(),
      idleMs: idle.value,
      // Unknown inhibitors never postpone a lock.
      inhibited: inhibitors.ok && inhibitors.value.inhibited,
    });
  }

  #failed(what: 'idle' | 'inhibitors', reason: string | null): void {
    if (reason === null) {
      this.#failing.delete(what);
    } else if (this.#failing.get(what) !== reason) {
      this.#failing.set(what, reason);
      this.#options.listener.readingFailed(what, reason);
    }
  }

  async #apply(event: IdleEvent): Promise<void> {
    let actions: IdleAction[] = this.#machine.handle(event);
    while (actions.length > 0) {
      const next: IdleAction[] = [];
      for (const action of actions) {
        next.push(...(await this.#do(action)));
      }
      actions = next;
    }
  }

  async #do(action: IdleAction): Promise<IdleAction[]> {
    const { listener, desktop } = this.#options;
    switch (action.type) {
      case 'warn':
        listener.warning(action.msLeft);
        return [];
      case 'cancel-warning':
        listener.warning(null);
        return [];
      case 'lock': {
        const outcome = await desktop.lock();
        const failed = outcome.attempts.filter((attempt) => !attempt.ok);
        if (failed.length > 0) {
          listener.lockFailed(failed, outcome.ok);
        }
        const at = this.#options.now();
        if (outcome.ok) {
          listener.locked(outcome);
          return this.#machine.handle({ type: 'lock-result', at, ok: true });
        }
        const reason = failed.map((a) => `${a.command}: ${a.detail}`).join('; ');
        return this.#machine.handle({ type: 'lock-result', at, ok: false, reason });
      }
      case 'locked':
      case 'lock-failed':
        // Already told above, with the attempts.
        return [];
      default:
        return assertNever(action);
    }
  }
}
