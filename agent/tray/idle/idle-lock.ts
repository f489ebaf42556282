// The idle lock's decisions, with no timers and no I/O: the tray feeds it readings of the OS
// idle counter and the injected clock, and carries out the actions it returns. Kept pure so every
// rule below is a one-line table row on a fake clock (issue 14).
//
// Rules:
// - Input is read from the OS idle counter (ms since the last key or pointer event), never from
//   the wall clock: a clock change alone cannot make anyone idle.
// - active → warning once the counter reaches the policy's minutes (or, while an OS inhibitor
//   such as a presentation is held and the policy honours it, the ceiling); warning → locked
//   when the countdown runs out with no input; any input cancels the warning.
// - The countdown advances only by sane steps of the injected clock. A step backwards counts as
//   nothing; a step far longer than the tray ever sleeps (a suspend, a clock jump forwards) or a
//   resume event counts as "the user may have come back": a lock that was due is not skipped, it
//   comes after a fresh warning (at least RESUME_GRACE_MS) that the user can cancel.
// - A lock command that fails is reported and retried, never taken as locked.
import type { IdleLockView } from '../../../shared/schemas/ipc.ts';
import type { IdleLockPolicy } from '../../../shared/schemas/policy.ts';
import type { ConsoleUser } from '../../core/console-user/console-user.ts';
import { idleLockView } from '../../core/idle-lock/idle-lock-view.ts';
import { assertNever } from '../../core/checks/define-check.ts';

/** How long a policy minute and second last; tests shrink them, the tray uses real time. */
export interface TimeScale {
  msPerMinute: number;
  msPerSecond: number;
}

/** Real minutes and seconds. */
export const REAL_TIME: TimeScale = { msPerMinute: 60_000, msPerSecond: 1_000 };

/** The policy as durations for one user. */
export interface IdleLockTimings {
  /** Null when the lock applies; otherwise why it does not. */
  off: 'disabled' | 'exempt' | null;
  idleMs: number;
  warningMs: number;
  /** Idle time after which an honoured inhibitor no longer postpones the lock. */
  ceilingMs: number;
  honourInhibitors: boolean;
}

/** Turns the policy into durations for the user of this session (null: unknown, not exempt). */
export function idleLockTimings(
  policy: IdleLockPolicy,
  user: ConsoleUser | null,
  scale: TimeScale = REAL_TIME,
): IdleLockTimings {
  return idleLockViewTimings(idleLockView(policy, user), scale);
}

/** Turns the policy as the service resolved it for the console user (idle:policy) into durations. */
export function idleLockViewTimings(
  view: IdleLockView,
  scale: TimeScale = REAL_TIME,
): IdleLockTimings {
  return {
    off: view.off,
    idleMs: view.minutes * scale.msPerMinute,
    warningMs: view.warningSeconds * scale.msPerSecond,
    ceilingMs: Math.max(view.minutes, view.inhibitorCeilingMinutes) * scale.msPerMinute,
    honourInhibitors: view.honourInhibitors,
  };
}

/** What the machine is doing. */
export type IdlePhase = 'off' | 'active' | 'warning' | 'locking' | 'locked' | 'lock-failed';

/** Something that happened, with the injected clock's time in ms. */
export type IdleEvent =
  | {
      type: 'reading';
      at: number;
      /** The OS idle counter: ms since the last input in this session. */
      idleMs: number;
      /** Whether an OS idle inhibitor is held (false when it could not be read). */
      inhibited: boolean;
    }
  | { type: 'resume'; at: number }
  | { type: 'policy'; at: number; timings: IdleLockTimings }
  | { type: 'lock-result'; at: number; ok: true }
  | { type: 'lock-result'; at: number; ok: false; reason: string };

/** What the tray must do. */
export type IdleAction =
  | { type: 'warn'; msLeft: number }
  | { type: 'cancel-warning' }
  | { type: 'lock' }
  | { type: 'locked' }
  | { type: 'lock-failed'; reason: string };

/** Tunables of the machine itself (not policy). */
export interface IdleMachineOptions {
  /** The longest the tray waits between readings. */
  maxPollMs: number;
  /** A clock step longer than this is a suspend or a jump, not elapsed countdown. */
  gapMs: number;
  /** The shortest warning after a resume or forward jump when a lock was due. */
  resumeGraceMs: number;
  /** How long after a failed lock command it is tried again. */
  lockRetryMs: number;
  /** How often the warning's countdown is refreshed. */
  warningTickMs: number;
}

/** Defaults: one reading every 5 s at most while active, one per second while warning. */
export const DEFAULT_MACHINE_OPTIONS: IdleMachineOptions = {
  maxPollMs: 5_000,
  gapMs: 30_000,
  resumeGraceMs: 30_000,
  lockRetryMs: 30_000,
  warningTickMs: 1_000,
};

/** The idle lock state machine. */
export class IdleLockMachine {
  #timings: IdleLockTimings;
  readonly #options: IdleMachineOptions;
  #phase: IdlePhase;
  #lastAt: number | null = null;
  #lastIdleMs: number | null = null;
  #inhibited = false;
  #resumed = false;
  /** Countdown left in `warning`, retry wait left in `lock-failed`. */
  #leftMs = 0;

  constructor(timings: IdleLockTimings, options: Partial<IdleMachineOptions> = {}) {
    this.#timings = timings;
    this.#options = { ...DEFAULT_MACHINE_OPTIONS, ...options };
    this.#phase = timings.off === null ? 'active' : 'off';
  }

  /** The current phase. */
  get phase(): IdlePhase {
    return this.#phase;
  }

  /** Countdown left while warning (ms). */
  get warningLeftMs(): number {
    return this.#phase === 'warning' ? this.#leftMs : 0;
  }

  /** Applies one event and returns what the tray must do, in order. */
  handle(event: IdleEvent): IdleAction[] {
    const step = this.#step(event.at);
    switch (event.type) {
      case 'resume':
        this.#resumed = true;
        return [];
      case 'policy':
        return this.#policy(event.timings);
      case 'lock-result':
        return this.#lockResult(event);
      case 'reading':
        return this.#reading(event.idleMs, event.inhibited, step);
      default:
        return assertNever(event);
    }
  }

  /** How long the tray may wait before the next reading; null: until another event. */
  nextReadingInMs(): number | null {
    const { maxPollMs, warningTickMs } = this.#options;
    switch (this.#phase) {
      case 'off':
      case 'locking':
        return null;
      case 'active': {
        // The counter cannot pass the threshold sooner than this, so no earlier reading is needed.
        const toGo = this.#threshold() - (this.#lastIdleMs ?? 0);
        return clamp(toGo, 1, maxPollMs);
      }
      case 'warning':
      case 'lock-failed':
        return clamp(this.#leftMs, 1, warningTickMs);
      case 'locked':
        return maxPollMs;
      default:
        return assertNever(this.#phase);
    }
  }

  /** The sane elapsed time since the last event; flags a discontinuity when there is none. */
  #step(at: number): number {
    const last = this.#lastAt;
    this.#lastAt = at;
    if (last === null) {
      return 0;
    }
    const step = at - last;
    if (step < 0) {
      // The clock went back: no time is known to have passed; the countdown holds.
      return 0;
    }
    if (step > this.#options.gapMs) {
      this.#resumed = true;
      return 0;
    }
    return step;
  }

  #threshold(): number {
    const t = this.#timings;
    return this.#inhibited && t.honourInhibitors ? t.ceilingMs : t.idleMs;
  }

  #policy(timings: IdleLockTimings): IdleAction[] {
    const wasWarning = this.#phase === 'warning';
    const oldWarningMs = this.#timings.warningMs;
    this.#timings = timings;
    if (timings.off !== null) {
      const locking = this.#phase === 'locking' || this.#phase === 'locked';
      // A lock already issued stands; only pending ones are dropped.
      this.#phase = locking ? this.#phase : 'off';
      return wasWarning ? [{ type: 'cancel-warning' }] : [];
    }
    if (this.#phase === 'off') {
      this.#phase = 'active';
      return [];
    }
    if (wasWarning) {
      // The warning keeps what it has already run: a shorter warning brings the lock forward,
      // a longer one extends it; the idle threshold is checked again on the next reading.
      const ran = oldWarningMs - this.#leftMs;
      this.#leftMs = timings.warningMs - ran;
      if (this.#lastIdleMs !== null && this.#lastIdleMs < this.#threshold()) {
        this.#phase = 'active';
        return [{ type: 'cancel-warning' }];
      }
      if (this.#leftMs <= 0) {
        return this.#lock();
      }
      return [{ type: 'warn', msLeft: this.#leftMs }];
    }
    return [];
  }

  #lockResult(event: Extract<IdleEvent, { type: 'lock-result' }>): IdleAction[] {
    if (this.#phase !== 'locking') {
      return [];
    }
    if (event.ok) {
      this.#phase = 'locked';
      return [{ type: 'locked' }];
    }
    this.#phase = 'lock-failed';
    this.#leftMs = this.#options.lockRetryMs;
    return [{ type: 'lock-failed', reason: event.reason }];
  }

  #reading(idleMs: number, inhibited: boolean, step: number): IdleAction[] {
    const input = this.#lastIdleMs !== null && idleMs < this.#lastIdleMs;
    this.#lastIdleMs = idleMs;
    this.#inhibited = inhibited;
    const resumed = this.#resumed;
    this.#resumed = false;
    const due = idleMs >= this.#threshold();
    switch (this.#phase) {
      case 'off':
      case 'locking':
        return [];
      case 'locked':
        if (input) {
          this.#phase = 'active';
        }
        return [];
      case 'active':
        if (!due) {
          return [];
        }
        return this.#warn(resumed ? this.#graceMs() : this.#timings.warningMs);
      case 'warning':
      case 'lock-failed': {
        const wasWarning = this.#phase === 'warning';
        if (input || !due) {
          this.#phase = 'active';
          return wasWarning ? [{ type: 'cancel-warning' }] : [];
        }
        if (resumed) {
          // Whoever opened the lid gets the chance to show they are there.
          this.#leftMs = Math.max(this.#leftMs, this.#graceMs());
          return this.#warn(this.#leftMs);
        }
        this.#leftMs -= step;
        if (this.#leftMs <= 0) {
          return this.#lock();
        }
        return wasWarning ? [{ type: 'warn', msLeft: this.#leftMs }] : [];
      }
      default:
        return assertNever(this.#phase);
    }
  }

  #graceMs(): number {
    return Math.max(this.#timings.warningMs, this.#options.resumeGraceMs);
  }

  #warn(ms: number): IdleAction[] {
    if (ms <= 0) {
      return this.#lock();
    }
    this.#phase = 'warning';
    this.#leftMs = ms;
    return [{ type: 'warn', msLeft: ms }];
  }

  #lock(): IdleAction[] {
    const wasWarning = this.#phase === 'warning';
    this.#phase = 'locking';
    this.#leftMs = 0;
    return wasWarning ? [{ type: 'cancel-warning' }, { type: 'lock' }] : [{ type: 'lock' }];
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
