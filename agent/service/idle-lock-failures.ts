// The service's side of a failing idle lock: the tray says its lock could not do its job
// (`idle:lock-failed`) and this records an `idle.lock-failed` event, so ICT sees a desk that
// will not lock instead of a line in the pupil's own log. The tray is untrusted and any proven
// console user can connect, so the user named is the console user the service finds itself,
// the reason is clipped and cleaned inert text, and reports are folded as the USB guard folds
// decisions (agent/core/fold-windows.ts): the first of a kind is sent at once, repeats
// within the window are counted and sent as one event when it ends, so a client repeating the
// request without end adds at most one event per kind per window (and at most two console-user
// lookups). There are four kinds and one slot each, so the memory held is fixed whatever a
// client sends.
import { randomUUID } from 'node:crypto';
import { SCHEMA_VERSION, type AgentEvent, type IdleLockFailureKind } from '../../shared/index.ts';
import type { ConsoleUserSource } from '../core/console-user/console-user.ts';
import { FoldWindows, realTimers, type EventTimers } from '../core/fold-windows.ts';

/** What the recorder is built from. */
export interface IdleLockFailureOptions {
  consoleUser: ConsoleUserSource;
  recordEvent(event: AgentEvent): Promise<void>;
  now(): Date;
  /** Same kind for the same console user within this long: one event. Default 10 minutes. */
  windowMs?: number;
  timers?: EventTimers;
  /** Told when an event could not be queued (a full disk); the recorder carries on. */
  onError?(error: unknown): void;
}

/** The longest reason kept in the event. */
export const FAILURE_REASON_KEPT = 300;
const DEFAULT_WINDOW_MS = 10 * 60_000;

/** How a report was taken: sent as an event now, or counted into the next one. */
export type FailureOutcome = 'recorded' | 'folded';

/** Records the tray's idle-lock failures, folded per kind. */
export class IdleLockFailureRecorder {
  readonly #options: IdleLockFailureOptions;
  /** One window per kind; the latest reason of the window is the one sent. */
  readonly #windows: FoldWindows<IdleLockFailureKind, string>;

  constructor(options: IdleLockFailureOptions) {
    this.#options = options;
    this.#windows = new FoldWindows({
      now: () => options.now(),
      windowMs: options.windowMs ?? DEFAULT_WINDOW_MS,
      timers: options.timers ?? realTimers,
      flush: async (kind, reason, count, firstAt) => {
        // Whoever sits at the console when the count is sent: a session that changed within the
        // window is named by the later user (the first report of the window named the earlier).
        const user = await this.#consoleUser();
        await this.#send(this.#options.now(), { user, kind, reason, count, firstAt });
      },
    });
  }

  /**
   * Notes one report from the tray (already schema-checked: a known kind, bounded text). The
   * console user is looked up only for an event sent (the first of a window, and each folded
   * count), never per report: on Windows a lookup starts PowerShell, and a flood must not.
   */
  async record(kind: IdleLockFailureKind, reason: string): Promise<FailureOutcome> {
    const now = this.#options.now();
    await this.#windows.flushDue();
    const text = inert(reason);
    if (this.#windows.fold(kind, text, now.toISOString())) {
      return 'folded';
    }
    // Opened before the lookup below, so reports arriving meanwhile fold into it.
    this.#windows.open(kind);
    const user = await this.#consoleUser();
    await this.#send(now, { user, kind, reason: text, count: 1, firstAt: now.toISOString() });
    return 'recorded';
  }

  /** Sends the folded counts of windows that have ended. */
  async flushDue(): Promise<void> {
    await this.#windows.flushDue();
  }

  /** Sends every folded count now (a clean stop loses none) and stops the timer. */
  async stop(): Promise<void> {
    await this.#windows.stop();
  }

  async #consoleUser(): Promise<string | null> {
    try {
      const name = (await this.#options.consoleUser.current())?.name ?? null;
      return name === null ? null : name.slice(0, 256);
    } catch {
      // Who sat there could not be found out; the failure is still recorded, with no name.
      return null;
    }
  }

  async #send(
    now: Date,
    data: Extract<AgentEvent, { type: 'idle.lock-failed' }>['data'],
  ): Promise<void> {
    try {
      await this.#options.recordEvent({
        schemaVersion: SCHEMA_VERSION,
        id: randomUUID(),
        occurredAt: now.toISOString(),
        type: 'idle.lock-failed',
        data,
      });
    } catch (error) {
      this.#options.onError?.(error);
    }
  }
}

/** The tray's text as inert, one-line, bounded text: control characters become '?'. */
export function inert(reason: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = reason.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?').trim();
  const text = clean === '' ? '(no reason given)' : clean;
  return text.length > FAILURE_REASON_KEPT ? `${text.slice(0, FAILURE_REASON_KEPT - 1)}…` : text;
}
