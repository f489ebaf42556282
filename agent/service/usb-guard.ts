// The service's USB duty: makes storage fail closed, judges every attached storage device
// (decide.ts) and applies the verdict through the OS's platform, watches arrivals and removals,
// and judges everything again when the policy, the console user or the time (an approval
// expiring) changes. Every decision goes to status, to the outbox (rate-limited, see
// decision-events.ts) and to subscribed trays. Nothing a platform does can stop the guard: a
// rejection is logged and shown in status, a broken watch is restarted with back-off.
import type { AgentEvent, AgentStatus, Policy, UsbDecision } from '../../shared/index.ts';
import type { ConsoleUser, ConsoleUserSource } from '../core/console-user/console-user.ts';
import { decideUsb, nextExpiry, type UsbVerdict } from '../core/usb/decide.ts';
import { realTimers, type EventTimers } from '../core/fold-windows.ts';
import { UsbDecisionEvents } from '../core/usb/decision-events.ts';
import type { AttachedUsbStorage, UsbEnforcement, UsbPlatform } from '../core/usb/platform.ts';
import type { ServiceLog } from './service.ts';

/** The policy in force and news of a new one (the policy cache). */
export interface GuardPolicySource {
  current(): Policy;
  onChange(listener: (policy: Policy) => void): () => void;
}

/** Everything the guard is built from. */
export interface UsbGuardParts {
  /** The OS's enforcement; null where this build has none (then `unavailable` says why). */
  platform: UsbPlatform | null;
  unavailable: string;
  policy: GuardPolicySource;
  consoleUser: ConsoleUserSource;
  /** Queues an event durably (the service's recordEvent). */
  recordEvent(event: AgentEvent): Promise<void>;
  /** Tells subscribed trays (IPC `usb:decision`). */
  push(decision: UsbDecision): void;
  log: ServiceLog;
  now(): Date;
  timers?: EventTimers;
  /** How often the console user is asked (and a missed expiry noticed). Default 1 minute. */
  userPollMs?: number;
  /** Back-off of watch restarts: from base, doubling, to cap. Default 1 s to 1 min. */
  watchRetry?: { baseMs: number; capMs: number };
  /** Rate-limit window of events (decision-events.ts). Default 10 minutes. */
  eventWindowMs?: number;
}

/** Decisions kept for status (the schema's bound). */
const RECENT = 50;
/** setTimeout's longest wait; a later expiry is reached by waiting again. */
const MAX_WAIT_MS = 2 ** 31 - 1;

/** One attached device and what the guard did to it. */
interface Tracked {
  storage: AttachedUsbStorage;
  /** The enforcement the platform last applied successfully; null before any. */
  applied: UsbEnforcement | null;
  /** The last verdict recorded (undefined: none yet; null: not storage by the policy). */
  verdict: UsbVerdict | null | undefined;
}

/** The USB guard: start() once, stop() on shutdown; status() any time. */
export class UsbGuard {
  readonly #parts: UsbGuardParts;
  readonly #timers: EventTimers;
  readonly #events: UsbDecisionEvents;
  readonly #attached = new Map<string, Tracked>();
  readonly #recent: UsbDecision[] = [];
  readonly #problems = new Map<string, string>();
  #user: ConsoleUser | null = null;
  /** Work runs one piece at a time, in order: arrivals, removals and re-judging never interleave. */
  #queue: Promise<void> = Promise.resolve();
  #watch: { stop(): Promise<void> } | null = null;
  /** Bumped at each watch (re)start: reports from a stopped watch are ignored. */
  #watchGeneration = 0;
  #watchFailures = 0;
  #watchStartedAt = 0;
  #restartTimer: unknown = null;
  #pollTimer: unknown = null;
  #expiryTimer: unknown = null;
  #expiryAt: number | null = null;
  #unsubscribe: (() => void) | null = null;
  #stopped = false;
  /** The portableMediaIsStorage the fail-closed default was last installed for. */
  #portableCounts: boolean | null = null;

  constructor(parts: UsbGuardParts) {
    this.#parts = parts;
    this.#timers = parts.timers ?? realTimers;
    this.#events = new UsbDecisionEvents({
      record: (event) => parts.recordEvent(event),
      now: () => parts.now(),
      timers: this.#timers,
      ...(parts.eventWindowMs === undefined ? {} : { windowMs: parts.eventWindowMs }),
      onError: (error) => {
        parts.log.error({ error: errorText(error) }, 'USB guard: event not queued');
      },
    });
  }

  /**
   * Makes storage fail closed, judges what is attached and starts watching. Resolves once the
   * attached devices are judged; never rejects (every failure is in status).
   */
  async start(): Promise<void> {
    const { platform, log } = this.#parts;
    if (platform === null) {
      this.#problems.set('platform', this.#parts.unavailable);
      log.warn({ reason: this.#parts.unavailable }, 'USB guard: no enforcement on this OS');
      return;
    }
    await this.#installFailClosed(platform, this.#parts.policy.current());
    this.#user = await this.#readUser();
    // The service may be stopping already (start() is not awaited by the service: an OS that
    // hangs here must not hold up its start-up or its stop).
    if (this.#stopped) {
      return;
    }
    this.#unsubscribe = this.#parts.policy.onChange((policy) => {
      void this.#enqueue(async () => {
        // Whether phones and cameras count as storage is part of the fail-closed default
        // (Windows denies their class while the service is stopped only when they do).
        if ((policy.usb.portableMediaIsStorage === true) !== this.#portableCounts) {
          await this.#installFailClosed(platform, policy);
        }
        await this.#judgeAll('policy changed');
      });
    });
    // Watch first, then list: a device plugged in between is seen by one or the other.
    this.#startWatch();
    await this.#enqueue(async () => {
      await this.#relist();
    });
    this.#schedulePoll();
  }

  /** Installs the fail-closed default for `policy`; a failure is a problem in status. */
  async #installFailClosed(platform: UsbPlatform, policy: Policy): Promise<void> {
    const { log } = this.#parts;
    this.#portableCounts = policy.usb.portableMediaIsStorage === true;
    try {
      const cannot = await platform.installFailClosedDefault(policy.usb);
      if (cannot === null) {
        this.#problems.delete('fail-closed');
      } else {
        this.#problems.set('fail-closed', cannot);
        log.warn({ reason: cannot }, 'USB guard: storage cannot fail closed on this OS');
      }
    } catch (error) {
      this.#portableCounts = null; // tried again at the next policy change
      const problem = `could not make USB storage fail closed: ${errorText(error)}`;
      this.#problems.set('fail-closed', problem);
      log.error({ error: errorText(error) }, 'USB guard: fail-closed default not installed');
    }
  }

  /** Stops watching and timers, waits for work in flight, sends folded event counts. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe?.();
    for (const timer of [this.#restartTimer, this.#pollTimer, this.#expiryTimer]) {
      if (timer !== null) {
        this.#timers.clearTimeout(timer);
      }
    }
    await this.#stopWatch();
    await this.#queue;
    await this.#events.stop();
  }

  /** What status shows: mode, the problems in one sentence, the latest decisions (newest first). */
  status(): AgentStatus['usb'] {
    const problems = [...this.#problems.values()];
    return {
      mode: this.#parts.policy.current().usb.mode,
      problem: problems.length === 0 ? null : problems.join('; ').slice(0, 1000),
      recent: [...this.#recent],
    };
  }

  /** Waits for queued work (tests). */
  async settled(): Promise<void> {
    await this.#queue;
  }

  #enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(async () => {
      // Nothing is applied after stop(): the service is going away.
      if (this.#stopped) {
        return;
      }
      try {
        await work();
      } catch (error) {
        // A bug in a step, not an OS refusal (those are caught where they happen): logged, and
        // the guard goes on with the next piece of work.
        this.#parts.log.error({ error: errorText(error) }, 'USB guard: step failed');
      }
    });
    this.#queue = next;
    return next;
  }

  #startWatch(): void {
    const platform = this.#parts.platform;
    if (platform === null || this.#stopped) {
      return;
    }
    const generation = ++this.#watchGeneration;
    const current = () => generation === this.#watchGeneration && !this.#stopped;
    this.#watchStartedAt = this.#parts.now().getTime();
    try {
      const watch = platform.watch({
        attached: (storage) => {
          if (current()) {
            void this.#enqueue(() => this.#arrived(storage));
          }
        },
        detached: (key) => {
          if (current()) {
            void this.#enqueue(() => this.#departed(key));
          }
        },
        failed: (error) => {
          if (current()) {
            this.#watchFailed(error);
          }
        },
      });
      if (current()) {
        this.#watch = watch;
      } else {
        // It failed before watch() returned: stop it, or its monitor outlives the restart.
        watch.stop().catch((error: unknown) => {
          this.#parts.log.warn(
            { error: errorText(error) },
            'USB guard: watch did not stop cleanly',
          );
        });
      }
    } catch (error) {
      this.#watch = null;
      this.#watchFailed(error instanceof Error ? error : new Error(String(error)));
    }
  }

  async #stopWatch(): Promise<void> {
    const watch = this.#watch;
    this.#watch = null;
    this.#watchGeneration++;
    try {
      await watch?.stop();
    } catch (error) {
      this.#parts.log.warn({ error: errorText(error) }, 'USB guard: watch did not stop cleanly');
    }
  }

  #watchFailed(error: Error): void {
    const { capMs, baseMs } = this.#parts.watchRetry ?? { baseMs: 1000, capMs: 60_000 };
    // A watch that ran a while before failing starts the back-off afresh.
    if (this.#parts.now().getTime() - this.#watchStartedAt >= capMs) {
      this.#watchFailures = 0;
    }
    const wait = Math.min(capMs, baseMs * 2 ** this.#watchFailures);
    this.#watchFailures++;
    const problem = `watching for USB devices failed (${errorText(error)}); retrying in ${String(Math.ceil(wait / 1000))} s`;
    this.#problems.set('watch', problem);
    this.#parts.log.error({ error: errorText(error), retryMs: wait }, 'USB guard: watch failed');
    void this.#stopWatch();
    if (this.#restartTimer !== null) {
      this.#timers.clearTimeout(this.#restartTimer);
    }
    this.#restartTimer = this.#timers.setTimeout(() => {
      this.#restartTimer = null;
      if (this.#stopped) {
        return;
      }
      this.#startWatch();
      // Arrivals while the watch was down were missed: list again.
      void this.#enqueue(async () => {
        if (await this.#relist()) {
          if (this.#watch !== null) {
            this.#problems.delete('watch');
          }
        }
      });
    }, wait);
  }

  /** Lists attached storage and judges it all; false when the list failed (kept as it was). */
  async #relist(): Promise<boolean> {
    const platform = this.#parts.platform;
    if (platform === null) {
      return false;
    }
    let listed: AttachedUsbStorage[];
    try {
      listed = await platform.listAttached();
      this.#problems.delete('list');
    } catch (error) {
      this.#problems.set('list', `could not list USB storage: ${errorText(error)}`);
      this.#parts.log.error({ error: errorText(error) }, 'USB guard: listing failed');
      return false;
    }
    const keys = new Set(listed.map((storage) => storage.key));
    for (const key of [...this.#attached.keys()]) {
      if (!keys.has(key)) {
        this.#forget(key);
      }
    }
    for (const storage of listed) {
      const known = this.#attached.get(storage.key);
      if (known === undefined || !sameDevice(known.storage, storage)) {
        this.#attached.set(storage.key, { storage, applied: null, verdict: undefined });
      } else {
        known.storage = storage;
      }
    }
    await this.#judgeAll('listed');
    return true;
  }

  async #arrived(storage: AttachedUsbStorage): Promise<void> {
    // Who sits at the console now, not a minute ago: the exemption is about them.
    this.#user = await this.#readUser();
    const tracked: Tracked = { storage, applied: null, verdict: undefined };
    this.#attached.set(storage.key, tracked);
    await this.#judge(tracked, this.#parts.policy.current(), this.#parts.now());
  }

  #departed(key: string): Promise<void> {
    this.#forget(key);
    return Promise.resolve();
  }

  #forget(key: string): void {
    this.#attached.delete(key);
    this.#problems.delete(`apply:${key}`);
  }

  async #judgeAll(reason: string): Promise<void> {
    const policy = this.#parts.policy.current();
    const now = this.#parts.now();
    for (const tracked of this.#attached.values()) {
      await this.#judge(tracked, policy, now);
    }
    this.#armExpiry(policy, now);
    if (this.#attached.size > 0) {
      this.#parts.log.info({ reason, devices: this.#attached.size }, 'USB guard: devices judged');
    }
  }

  async #judge(tracked: Tracked, policy: Policy, now: Date): Promise<void> {
    const verdict = decideUsb(tracked.storage, policy.usb, this.#user, now);
    if (verdict === null) {
      // Not storage by this policy (portable media): undo a restriction from an earlier one.
      if (tracked.applied === 'block' || tracked.applied === 'read-only') {
        await this.#apply(tracked, 'read-write');
      }
      tracked.verdict = null;
      return;
    }
    const enforcement = enforcementOf(verdict);
    // Re-applied until it succeeds: a platform that refused once is asked again next time.
    if (enforcement !== null && enforcement !== tracked.applied) {
      await this.#apply(tracked, enforcement);
    }
    if (
      tracked.verdict !== undefined &&
      tracked.verdict !== null &&
      sameVerdict(tracked.verdict, verdict)
    ) {
      return;
    }
    tracked.verdict = verdict;
    const decision: UsbDecision = {
      at: now.toISOString(),
      device: tracked.storage.device,
      action: verdict.action,
      basis: verdict.basis,
      mode: policy.usb.mode,
      user: this.#user === null ? null : this.#user.name.slice(0, 256),
      approvalId: verdict.approvalId,
    };
    this.#recent.unshift(decision);
    this.#recent.length = Math.min(this.#recent.length, RECENT);
    this.#parts.log.info(
      {
        device: `${decision.device.vendorId}:${decision.device.productId}`,
        serial: decision.device.serial,
        action: decision.action,
        basis: decision.basis,
      },
      'USB guard: decision',
    );
    try {
      this.#parts.push(decision);
    } catch (error) {
      this.#parts.log.warn({ error: errorText(error) }, 'USB guard: push to trays failed');
    }
    await this.#events.note(decision);
  }

  async #apply(tracked: Tracked, enforcement: UsbEnforcement): Promise<void> {
    const platform = this.#parts.platform;
    if (platform === null) {
      return;
    }
    const { key, device } = tracked.storage;
    try {
      await platform.apply(tracked.storage, enforcement);
      tracked.applied = enforcement;
      this.#problems.delete(`apply:${key}`);
    } catch (error) {
      this.#problems.set(
        `apply:${key}`,
        `could not make ${device.name} (${device.vendorId}:${device.productId}) ${enforcement}: ${errorText(error)}`,
      );
      this.#parts.log.error(
        { key, enforcement, error: errorText(error) },
        'USB guard: the OS refused an action',
      );
    }
  }

  /** The next expiry re-judges everything, on the device's own clock, offline too. */
  #armExpiry(policy: Policy, now: Date): void {
    if (this.#expiryTimer !== null) {
      this.#timers.clearTimeout(this.#expiryTimer);
      this.#expiryTimer = null;
    }
    const next = nextExpiry(policy.usb, now);
    this.#expiryAt = next === null ? null : next.getTime();
    if (next === null || this.#stopped) {
      return;
    }
    const wait = Math.min(MAX_WAIT_MS, next.getTime() - now.getTime());
    this.#expiryTimer = this.#timers.setTimeout(() => {
      this.#expiryTimer = null;
      void this.#enqueue(() => this.#judgeAll('an approval expired'));
    }, wait);
  }

  /**
   * Each poll asks who is at the console (when that could matter) and re-judges when that
   * changed. It also catches an expiry the timer has not reached because the wall clock jumped
   * forward (timers run on the monotonic clock).
   */
  #schedulePoll(): void {
    if (this.#stopped) {
      return;
    }
    this.#pollTimer = this.#timers.setTimeout(() => {
      this.#pollTimer = null;
      void this.#enqueue(async () => {
        // Asking who is at the console spawns a command (loginctl, PowerShell): only worth it
        // when the answer could change a verdict — something attached and someone exempt. A
        // device that arrives later reads the user afresh (#arrived).
        const exempt = this.#parts.policy.current().usb.exempt;
        const userMatters =
          this.#attached.size > 0 && exempt.users.length + exempt.groups.length > 0;
        let changed = false;
        if (userMatters) {
          const user = await this.#readUser();
          changed = !sameUser(user, this.#user);
          this.#user = user;
        }
        const expired = this.#expiryAt !== null && this.#parts.now().getTime() >= this.#expiryAt;
        if (this.#problems.has('list')) {
          // The last listing failed: what is attached is not known until one succeeds.
          await this.#relist();
        } else if (changed || expired) {
          await this.#judgeAll(changed ? 'console user changed' : 'an approval expired');
        }
      }).finally(() => {
        this.#schedulePoll();
      });
    }, this.#parts.userPollMs ?? 60_000);
  }

  async #readUser(): Promise<ConsoleUser | null> {
    try {
      return await this.#parts.consoleUser.current();
    } catch (error) {
      // Not knowing who is there means nobody is exempt: fail closed.
      this.#parts.log.warn({ error: errorText(error) }, 'USB guard: console user unknown');
      return null;
    }
  }
}

function enforcementOf(verdict: UsbVerdict): UsbEnforcement | null {
  switch (verdict.action) {
    case 'blocked':
      return 'block';
    case 'read-only':
      return 'read-only';
    case 'read-write':
      return 'read-write';
    case 'left-alone':
      // The system disk is never touched, not even to allow it.
      return null;
  }
}

function sameVerdict(a: UsbVerdict, b: UsbVerdict): boolean {
  return a.action === b.action && a.basis === b.basis && a.approvalId === b.approvalId;
}

function sameDevice(a: AttachedUsbStorage, b: AttachedUsbStorage): boolean {
  return (
    a.device.vendorId === b.device.vendorId &&
    a.device.productId === b.device.productId &&
    a.device.serial === b.device.serial &&
    a.systemDisk === b.systemDisk
  );
}

function sameUser(a: ConsoleUser | null, b: ConsoleUser | null): boolean {
  if (a === null || b === null) {
    return a === b;
  }
  return a.name === b.name && a.groups.join('\n') === b.groups.join('\n');
}

function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 500);
}
