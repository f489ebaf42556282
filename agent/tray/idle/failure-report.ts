// What the tray tells the service when its idle lock cannot do its job, so ICT sees a desk that
// will not lock (issue 14: "a lock command that fails is reported, never ignored") rather than
// a line in the pupil's own log. The Electron main process hands the controller's failures here
// and sends what this decides with `idle:lock-failed`; the service names the user, folds
// repeats and rate-limits, so this only chooses the kind and words and keeps the last report of
// each kind that could not be sent (the service was down) for when the tray reconnects.
import { IDLE_LOCK_FAILURE_REASON_MAX, type IdleLockFailureKind } from '../../../shared/index.ts';
import { brief, type LockAttempt } from './desktop.ts';

/** The request body the tray sends (the client adds the id). */
export interface LockFailureRequest {
  channel: 'idle:lock-failed';
  kind: IdleLockFailureKind;
  reason: string;
}

/** What the reporter is built from. */
export interface FailureReporterOptions {
  /** Sends one request to the service; rejects when it cannot. */
  send(request: LockFailureRequest): Promise<unknown>;
  /** The tray's own log, which still gets every failure. */
  log(message: string): void;
}

/** Decides and sends the idle lock's failure reports. */
export class IdleFailureReporter {
  readonly #options: FailureReporterOptions;
  /** The latest report of each kind the service did not take, sent again on reconnect. */
  readonly #unsent = new Map<IdleLockFailureKind, string>();

  constructor(options: FailureReporterOptions) {
    this.#options = options;
  }

  /**
   * Lock commands failed (the controller's `lockFailed`); `locked` says whether a fallback then
   * locked the session. The "none" command is the session desktop's: no way to lock at all.
   */
  lockFailed(attempts: LockAttempt[], locked: boolean): Promise<void> {
    if (attempts.length === 0) {
      return Promise.resolve();
    }
    const reason = attempts.map((a) => `${brief(a.command)}: ${brief(a.detail)}`).join('; ');
    const kind: IdleLockFailureKind = locked
      ? 'fallback-used'
      : attempts.every((a) => a.command === 'none')
        ? 'no-desktop'
        : 'lock-failed';
    return this.#report(kind, reason);
  }

  /**
   * A reading failed (the controller's `readingFailed`, told once per new reason). Without the
   * idle time the session never locks for idleness: reported. Unreadable inhibitors only make
   * the lock ignore a presentation, so they stay in the tray's log.
   */
  readingFailed(what: 'idle' | 'inhibitors', reason: string): Promise<void> {
    if (what === 'inhibitors') {
      this.#options.log(`idle lock: cannot read inhibitors: ${reason}`);
      return Promise.resolve();
    }
    return this.#report('idle-unreadable', brief(reason));
  }

  /** The OS gave the tray no desktop to lock with (at start-up). */
  noDesktop(reason: string): Promise<void> {
    return this.#report('no-desktop', brief(reason));
  }

  /** The tray reached the service again: reports it could not take are sent now. */
  async connected(): Promise<void> {
    const unsent = [...this.#unsent];
    this.#unsent.clear();
    for (const [kind, reason] of unsent) {
      await this.#send(kind, reason);
    }
  }

  /** Kinds waiting for the service (for tests and status). */
  unsent(): IdleLockFailureKind[] {
    return [...this.#unsent.keys()];
  }

  async #report(kind: IdleLockFailureKind, reason: string): Promise<void> {
    this.#options.log(`idle lock: ${kind}: ${reason}`);
    await this.#send(kind, clip(reason));
  }

  async #send(kind: IdleLockFailureKind, reason: string): Promise<void> {
    try {
      await this.#options.send({ channel: 'idle:lock-failed', kind, reason });
    } catch (error) {
      // Kept, latest per kind (at most four), for the next connection; never a growing queue.
      this.#unsent.set(kind, reason);
      this.#options.log(
        `idle lock: could not tell the service (${kind}); will again on reconnect: ${String(error)}`,
      );
    }
  }
}

/** Within the request's bound, so the service never refuses a report for its length. */
function clip(reason: string): string {
  const text = reason.trim() === '' ? '(no reason given)' : reason;
  return text.length > IDLE_LOCK_FAILURE_REASON_MAX
    ? `${text.slice(0, IDLE_LOCK_FAILURE_REASON_MAX - 1)}…`
    : text;
}
