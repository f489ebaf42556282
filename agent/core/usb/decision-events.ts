// USB decisions as outbox events, rate-limited: a pupil plugging the same stick in and out all
// lesson gives ICT one event with a count, not hundreds, and a stick that changes its serial on
// every plug cannot make the guard hold more memory or send more events than its bounds.
//
// The first decision for a device (vendor, product, serial) with an action and basis is sent at
// once, so ICT sees it when it happens. The same decision again within the window is folded:
// counted, with the time of the first folded one, and sent as one event when the window ends
// (or at stop()). A window that ends with folded decisions opens the next one, so a device
// plugged without end sends one event per window. A SIGKILL loses at most one window's folded
// counts; the first event of each device is already in the outbox.
import { randomUUID } from 'node:crypto';
import { SCHEMA_VERSION, type AgentEvent, type UsbDecision } from '../../../shared/index.ts';

/** Timers the folding uses; injected so tests move time themselves. */
export interface EventTimers {
  setTimeout(task: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** How decisions become events. */
export interface DecisionEventOptions {
  /** Queues an event durably (the service's recordEvent). */
  record(event: AgentEvent): Promise<void>;
  now(): Date;
  /** Same device, same action and basis within this long: one event. Default 10 minutes. */
  windowMs?: number;
  /**
   * Devices tracked at once. Beyond it, a further device's decisions fold into one event per
   * action and basis (for the last such device, with the count of all of them) rather than
   * growing the map.
   */
  maxTracked?: number;
  timers?: EventTimers;
  /** Told when an event could not be queued (a full disk); the guard carries on. */
  onError?(error: unknown): void;
}

const DEFAULT_WINDOW_MS = 10 * 60_000;
const DEFAULT_MAX_TRACKED = 256;
/** System disks reported this run; a handful per machine, the bound is only a backstop. */
const MAX_SYSTEM_DISKS = 64;

interface Slot {
  windowEndsAt: number;
  /** Decisions folded since the last event, the latest of them, and when the first came. */
  folded: number;
  latest: UsbDecision | null;
  firstAt: string | null;
}

/** Node's timers, unreferenced: the guard's timers never keep a stopping process alive. */
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

/** The event type a decision is reported as: anything less than read-write is a block. */
export function eventTypeOf(decision: UsbDecision): 'usb.blocked' | 'usb.allowed' {
  return decision.action === 'blocked' || decision.action === 'read-only'
    ? 'usb.blocked'
    : 'usb.allowed';
}

/** Turns decisions into rate-limited events. */
export class UsbDecisionEvents {
  readonly #options: DecisionEventOptions;
  readonly #windowMs: number;
  readonly #maxTracked: number;
  readonly #timers: EventTimers;
  readonly #slots = new Map<string, Slot>();
  /** Overflow slots, one per action and basis (at most 24): the bound behind the bound. */
  readonly #overflow = new Map<string, Slot>();
  readonly #systemDisks = new Set<string>();
  #timer: unknown = null;
  #timerAt: number | null = null;
  #stopped = false;

  constructor(options: DecisionEventOptions) {
    this.#options = options;
    this.#windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
    this.#maxTracked = options.maxTracked ?? DEFAULT_MAX_TRACKED;
    this.#timers = options.timers ?? realTimers;
  }

  /** Devices tracked now (for tests and status; never above maxTracked). */
  tracked(): number {
    return this.#slots.size;
  }

  /** Notes one decision: sends an event now, folds it, or (mode allow, a known system disk) nothing. */
  async note(decision: UsbDecision): Promise<void> {
    if (this.#stopped || (decision.basis === 'mode' && decision.mode === 'allow')) {
      return;
    }
    const device = deviceKey(decision);
    if (decision.action === 'left-alone') {
      // The system disk does not change while the machine runs: once is enough.
      if (this.#systemDisks.has(device) || this.#systemDisks.size >= MAX_SYSTEM_DISKS) {
        return;
      }
      this.#systemDisks.add(device);
      await this.#send(decision, 1, decision.at);
      return;
    }
    const now = this.#options.now().getTime();
    await this.#flushDue(now);
    const key = `${device}\n${decision.action}\n${decision.basis}`;
    const slot = this.#slots.get(key);
    if (slot !== undefined) {
      fold(slot, decision);
      return;
    }
    if (this.#slots.size >= this.#maxTracked) {
      const bucket = `${decision.action}\n${decision.basis}`;
      let overflow = this.#overflow.get(bucket);
      if (overflow === undefined) {
        overflow = { windowEndsAt: now + this.#windowMs, folded: 0, latest: null, firstAt: null };
        this.#overflow.set(bucket, overflow);
      }
      fold(overflow, decision);
      this.#arm();
      return;
    }
    this.#slots.set(key, {
      windowEndsAt: now + this.#windowMs,
      folded: 0,
      latest: null,
      firstAt: null,
    });
    this.#arm();
    await this.#send(decision, 1, decision.at);
  }

  /** Sends the folded counts of windows that have ended, and forgets quiet devices. */
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

  async #flushDue(now: number): Promise<void> {
    for (const slots of [this.#slots, this.#overflow]) {
      for (const [key, slot] of slots) {
        if (slot.windowEndsAt > now) {
          continue;
        }
        if (slot.folded === 0 || slot.latest === null || slot.firstAt === null) {
          slots.delete(key);
          continue;
        }
        const { latest, folded, firstAt } = slot;
        // The device keeps being plugged: the next window starts now, still folding.
        slot.windowEndsAt = now + this.#windowMs;
        slot.folded = 0;
        slot.latest = null;
        slot.firstAt = null;
        await this.#send(latest, folded, firstAt);
      }
    }
  }

  #arm(): void {
    if (this.#stopped) {
      return;
    }
    let next: number | null = null;
    for (const slot of [...this.#slots.values(), ...this.#overflow.values()]) {
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

  async #send(decision: UsbDecision, count: number, firstAt: string): Promise<void> {
    const event: AgentEvent = {
      schemaVersion: SCHEMA_VERSION,
      id: randomUUID(),
      occurredAt: decision.at,
      type: eventTypeOf(decision),
      data: { ...decision, count, firstAt },
    };
    try {
      await this.#options.record(event);
    } catch (error) {
      this.#options.onError?.(error);
    }
  }
}

function deviceKey(decision: UsbDecision): string {
  const { vendorId, productId, serial } = decision.device;
  return `${vendorId}:${productId}:${serial ?? ''}`;
}

function fold(slot: Slot, decision: UsbDecision): void {
  slot.folded++;
  slot.latest = decision;
  slot.firstAt ??= decision.at;
}
