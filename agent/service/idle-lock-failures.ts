// The service's side of a failing idle lock: the tray says its lock could not do its job
// (`idle:lock-failed`) and this records an `idle.lock-failed` event, so ICT sees a desk that
// will not lock instead of a line in the pupil's own log. The tray is untrusted and any proven
// console user can connect, so the user named is the console user the service finds itself,
// the reason is clipped and cleaned inert text, and reports are folded as the USB guard folds
// decisions (agent/core/usb/decision-events.ts): the first of a kind is sent at once, repeats
// within the window are counted and sent as one event when it ends, so a client repeating the
// request without end adds at most one event per kind per window (and at most two console-user
// lookups). There are four kinds and one slot each, so the memory held is fixed whatever a
// client sends.
import { randomUUID } from 'node:crypto';
import { SCHEMA_VERSION, type AgentEvent, type IdleLockFailureKind } from '../../shared/index.ts';
import type { ConsoleUserSource } from '../core/console-user/console-user.ts';
import { realTimers, type EventTimers } from '../core/usb/decision-events.ts';

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

interface Slot {
  windowEndsAt: number;
  /** Reports folded since the last event, the latest reason, and when the first came. */
  folded: number;
  reason: string;
  firstAt: string | null;
}

/** How a report was taken: sent as an event now, or counted into the next one. */
export type FailureOutcome = 'recorded' | 'folded';

/** Records the tray's idle-lock failures, folded per kind. */
export class IdleLockFailureRecorder {
  readonly #options: IdleLockFailureOptions;
  readonly #windowMs: number;
  readonly #timers: EventTimers;
  readonly #slots = new Map<IdleLockFailureKind, Slot>();
  #timer: unknown = null;
  #timerAt: number | null = null;
  #stopped = false;

  constructor(options: IdleLockFailureOptions) {
    this.#options = options;
    this.#windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
    this.#timers = options.timers ?? realTimers;
  }

  /**
   * Notes one report from the tray (already schema-checked: a known kind, bounded text). The
   * console user is looked up only for an event sent (the first of a window, and each folded
   * count), never per report: on Windows a lookup starts PowerShell, and a flood must not.
   */
  async record(kind: IdleLockFailureKind, reason: string): Promise<FailureOutcome> {
    const now = this.#options.now();
    const at = now.getTime();
    await this.#flushDue(at);
    const text = inert(reason);
    const slot = this.#slots.get(kind);
    if (slot !== undefined && !this.#stopped) {
      slot.folded++;
      slot.reason = text;
      slot.firstAt ??= now.toISOString();
      return 'folded';
    }
    if (!this.#stopped) {
      // Taken before the lookup below, so reports arriving meanwhile fold into it.
      this.#slots.set(kind, {
        windowEndsAt: at + this.#windowMs,
        folded: 0,
        reason: '',
        firstAt: null,
      });
      this.#arm();
    }
    const user = await this.#consoleUser();
    await this.#send(now, { user, kind, reason: text, count: 1, firstAt: now.toISOString() });
    return 'recorded';
  }

  /** Sends the folded counts of windows that have ended. */
  async flushDue(): Promise<void> {
    await this.#flushDue(this.#options.now().getTime());
    this.#arm();
  }

  /** Sends every folded count now (a clean stop loses none) and stops the timer. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#disarm();
    await this.#flushDue(Number.POSITIVE_INFINITY);
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

  async #flushDue(now: number): Promise<void> {
    for (const [kind, slot] of this.#slots) {
      if (slot.windowEndsAt > now) {
        continue;
      }
      if (slot.folded === 0) {
        this.#slots.delete(kind);
        continue;
      }
      // Still failing: the next window starts now, still folding.
      slot.windowEndsAt = now + this.#windowMs;
      await this.#flush(kind, slot);
    }
  }

  async #flush(kind: IdleLockFailureKind, slot: Slot): Promise<void> {
    if (slot.folded === 0 || slot.firstAt === null) {
      return;
    }
    const { folded, reason, firstAt } = slot;
    slot.folded = 0;
    slot.firstAt = null;
    // Whoever sits at the console when the count is sent: a session that changed within the
    // window is named by the later user (the first report of the window named the earlier one).
    const user = await this.#consoleUser();
    await this.#send(this.#options.now(), { user, kind, reason, count: folded, firstAt });
  }

  #arm(): void {
    if (this.#stopped) {
      return;
    }
    let next: number | null = null;
    for (const slot of this.#slots.values()) {
      next = next === null ? slot.windowEndsAt : Math.min(next, slot.windowEndsAt);
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
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = null;
      this.#timerAt = null;
      void this.flushDue();
    }, wait);
  }

  #disarm(): void {
    if (this.#timer !== null) {
      this.#timers.clearTimeout(this.#timer);
    }
    this.#timer = null;
    this.#timerAt = null;
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
