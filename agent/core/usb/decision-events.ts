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
import { FoldWindows, realTimers, type EventTimers } from '../fold-windows.ts';

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

/** The event type a decision is reported as: anything less than read-write is a block. */
export function eventTypeOf(decision: UsbDecision): 'usb.blocked' | 'usb.allowed' {
  return decision.action === 'blocked' || decision.action === 'read-only'
    ? 'usb.blocked'
    : 'usb.allowed';
}

/** Turns decisions into rate-limited events. */
export class UsbDecisionEvents {
  readonly #options: DecisionEventOptions;
  readonly #maxTracked: number;
  /** One window per device, action and basis. */
  readonly #devices: FoldWindows<string, UsbDecision>;
  /** Beyond maxTracked: one window per action and basis (at most 24), the bound behind the bound. */
  readonly #overflow: FoldWindows<string, UsbDecision>;
  readonly #systemDisks = new Set<string>();
  #stopped = false;

  constructor(options: DecisionEventOptions) {
    this.#options = options;
    this.#maxTracked = options.maxTracked ?? DEFAULT_MAX_TRACKED;
    const windows = {
      now: () => options.now(),
      windowMs: options.windowMs ?? DEFAULT_WINDOW_MS,
      timers: options.timers ?? realTimers,
      flush: (_key: string, latest: UsbDecision, count: number, firstAt: string) =>
        this.#send(latest, count, firstAt),
    };
    this.#devices = new FoldWindows(windows);
    this.#overflow = new FoldWindows(windows);
  }

  /** Devices tracked now (for tests and status; never above maxTracked). */
  tracked(): number {
    return this.#devices.size;
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
    await this.flushDue();
    const key = `${device}\n${decision.action}\n${decision.basis}`;
    if (this.#devices.fold(key, decision, decision.at)) {
      return;
    }
    if (this.#devices.size >= this.#maxTracked) {
      const bucket = `${decision.action}\n${decision.basis}`;
      if (!this.#overflow.fold(bucket, decision, decision.at)) {
        this.#overflow.open(bucket);
        this.#overflow.fold(bucket, decision, decision.at);
      }
      return;
    }
    this.#devices.open(key);
    await this.#send(decision, 1, decision.at);
  }

  /** Sends the folded counts of windows that have ended, and forgets quiet devices. */
  async flushDue(): Promise<void> {
    await this.#devices.flushDue();
    await this.#overflow.flushDue();
  }

  /** Sends every folded count now (a clean stop loses none) and stops the timers. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#devices.stop();
    await this.#overflow.stop();
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
