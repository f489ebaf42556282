// The privileged daemon's behaviour: check passes on a schedule, reports and events through the
// durable outbox, delivery with back-off, policy refresh, heartbeat. Everything it talks to is
// passed in (composition happens in run-service.ts), so tests drive it with the real server.
import {
  SCHEMA_VERSION,
  type AgentEvent,
  type AgentStatus,
  type CheckResult,
  type ComplianceReport,
  type DeviceFacts,
  type ReportBatch,
} from '../../shared/index.ts';
import { runChecks } from '../core/checks/run-checks.ts';
import type { CheckDefinition } from '../core/checks/define-check.ts';
import type { Host } from '../core/host.ts';
import { deliver, type SendOutcome } from '../core/outbox/deliver.ts';
import type { Outbox, OutboxItem } from '../core/outbox/outbox.ts';
import type { OsName } from '../core/platform.ts';
import type { PolicyCache } from '../core/policy/policy-cache.ts';
import { buildReport } from '../core/report.ts';
import { baseAfterAccepted, planDeltas, type ReportBase } from '../core/report-delta.ts';
import type { AupSignaturesFetch, PolicyFetch } from '../core/server-client.ts';
import { addPassFailure, agentHealthResult, type PassFailures } from './agent-health.ts';
import { SLOW_CHECK_IDS, type SlowCheckCache } from './slow-checks.ts';

/** What the service needs from the server, for an enrolled device. */
export interface DeviceConnection {
  readonly deviceId: string;
  readonly serverUrl: string;
  /** What a user signed on other devices (GET /api/v1/aup/signatures); absent: not asked. */
  fetchAupSignatures?(user: string): Promise<AupSignaturesFetch>;
  fetchPolicy(etag: string | null): Promise<PolicyFetch>;
  sendBatch(batch: ReportBatch): Promise<SendOutcome>;
}

/** The policy in force and how to offer it a new one (the policy cache). */
export type PolicySource = Pick<PolicyCache, 'current' | 'etag' | 'offer'> &
  Partial<Pick<PolicyCache, 'noteDeviceGroup'>>;

/** The service's structured logger (pino's shape). */
export interface ServiceLog {
  info(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
}

/** Everything the service is built from. */
export interface ServiceParts {
  os: OsName;
  host: Host;
  agentVersion: string;
  checks: readonly CheckDefinition[];
  outbox: Outbox;
  policy: PolicySource;
  slowChecks: SlowCheckCache;
  collectFacts: () => Promise<DeviceFacts>;
  /** The connection once enrolled; null before (checks still run, reports wait in the outbox). */
  connection: () => Promise<DeviceConnection | null>;
  log: ServiceLog;
  heartbeatMinutes: number;
  /** Upper bound of the random wait before the first delivery after start-up. */
  startupJitterMs: number;
  random?: () => number;
  /** The USB guard's part of the status (usb-guard.ts); absent when no guard runs. */
  usbStatus?: () => AgentStatus['usb'];
  /**
   * Told every pass's results, requested or scheduled, before the report is queued: duties
   * composed in run-service.ts watch them (antivirus-watch.ts). Must return at once.
   */
  observePass?: (results: readonly CheckResult[]) => void;
}

const MINUTE = 60_000;

/** The agent service: call start(), then stop() on shutdown. */
export class AgentService {
  readonly #parts: ServiceParts;
  readonly #random: () => number;
  #timers = new Set<NodeJS.Timeout>();
  #stopped = false;
  /** False until the start-up jitter has passed: no delivery before then. */
  #started = false;
  #pass: Promise<CheckResult[]> | null = null;
  #delivering: Promise<void> | null = null;
  #results: CheckResult[] = [];
  #lastCheckAt: Date | null = null;
  #lastQueuedAt: Date | null = null;
  #lastDeliveryAt: Date | null = null;
  #lastDeliveryError: string | null = null;
  #enrolled: DeviceConnection | null = null;
  #passFailures: PassFailures | null = null;
  /** A caller of the pass in flight wants its report queued whatever the results. */
  #passMustReport = false;
  /** Each check's status in the last report queued. */
  #queuedStatuses = new Map<string, string>();
  /** The last report the server said it holds: reports after it go as deltas (report-delta.ts). */
  #reportBase: ReportBase | null = null;
  /** The wait before the next heartbeat; every accepted batch starts it again. */
  #heartbeatTimer: NodeJS.Timeout | null = null;

  constructor(parts: ServiceParts) {
    this.#parts = parts;
    this.#random = parts.random ?? Math.random;
  }

  /** Starts the schedule: delivery of what is queued, policy refresh, the first pass. Returns at once. */
  start(): void {
    // What earlier runs left in the outbox goes out first (after a random wait, so devices that
    // boot together do not send together), without waiting for a check pass.
    this.#after(this.#random() * this.#parts.startupJitterMs, () => {
      this.#started = true;
      this.#kickDelivery();
    });
    this.#passAfter(0);
    this.#armHeartbeat();
  }

  /**
   * Stops the timers and waits for work in flight; nothing queued is lost (it is on disk).
   * With `announce`, stopping is never silent (issue 17): a `tamper.agent-stopped` event saying
   * why is queued durably and, when the device is enrolled and not backing off, sent at once,
   * start-up jitter or not; otherwise it goes with the first delivery after the next start.
   */
  async stop(options: { announce?: string } = {}): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers) {
      clearTimeout(timer);
    }
    this.#timers.clear();
    await Promise.allSettled([this.#pass, this.#delivering]);
    if (options.announce !== undefined) {
      await this.#announceStop(options.announce);
    }
    // Drops counted in memory become notices on disk, so a restart does not forget them.
    await this.#noteDrops().catch(() => undefined);
  }

  /**
   * One check pass → one report in the outbox → a delivery attempt. Concurrent calls share a
   * pass. A pass someone asked for (`requested`: the tray's checks:run, open to any local user)
   * queues a report only when a result changed since the last one queued, so asking over and
   * over cannot fill the outbox with copies; the schedule's passes always queue one.
   */
  runPass(options: { requested?: boolean } = {}): Promise<CheckResult[]> {
    if (options.requested !== true) {
      this.#passMustReport = true;
    }
    this.#pass ??= this.#doPass().finally(() => {
      this.#pass = null;
    });
    return this.#pass;
  }

  /**
   * Queues an event (USB, AUP, tamper…) durably, then tries to deliver. At the outbox's bound
   * of events it is refused and counted; ICT gets a `tamper.events-dropped` notice instead.
   */
  async recordEvent(event: AgentEvent): Promise<void> {
    const added = await this.#parts.outbox.add({ kind: 'event', id: event.id, payload: event });
    if (added.refused && this.#parts.outbox.pendingDrops().events?.count === 1) {
      this.#parts.log.warn({ type: event.type }, 'outbox full of events: refusing new ones');
    }
    this.#kickDelivery();
  }

  /** What `hallpass status` and the tray show. */
  status(): AgentStatus {
    const policy = this.#parts.policy.current();
    return {
      agentVersion: this.#parts.agentVersion,
      enrolled: this.#enrolled !== null,
      deviceId: this.#enrolled?.deviceId ?? null,
      serverUrl: this.#enrolled?.serverUrl ?? null,
      policy: { name: policy.name, version: policy.version },
      lastCheckAt: this.#lastCheckAt?.toISOString() ?? null,
      lastReportQueuedAt: this.#lastQueuedAt?.toISOString() ?? null,
      lastDeliveryAt: this.#lastDeliveryAt?.toISOString() ?? null,
      lastDeliveryError: this.#lastDeliveryError,
      passFailures:
        this.#passFailures === null
          ? null
          : {
              count: this.#passFailures.count,
              since: this.#passFailures.since.toISOString(),
              lastError: this.#passFailures.lastError,
            },
      deliveryFailures: this.#parts.outbox.failures(),
      nextDeliveryAttemptAt: isoOrNull(this.#parts.outbox.nextAttemptAt()),
      outbox: this.#parts.outbox.depth(),
      results: this.#results,
      usb: this.#parts.usbStatus?.() ?? {
        mode: policy.usb.mode,
        problem: 'the USB guard is not running',
        recent: [],
      },
    };
  }

  /** Waits for any delivery in flight (tests and shutdown). */
  async settled(): Promise<void> {
    await this.#delivering;
  }

  async #doPass(): Promise<CheckResult[]> {
    const now = this.#parts.host.now();
    try {
      return await this.#passAt(now);
    } catch (error) {
      // The checks may have run, but nothing reached the outbox (a full disk): say so in the
      // status now and in the first report that gets through.
      this.#passFailures = addPassFailure(this.#passFailures, now, errorText(error));
      this.#results = [
        ...this.#results.filter((r) => r.checkId !== 'agent-health'),
        agentHealthResult(this.#passFailures, now),
      ];
      throw error;
    }
  }

  async #passAt(now: Date): Promise<CheckResult[]> {
    const { os, log } = this.#parts;
    const host = this.#parts.host;
    const policy = this.#parts.policy.current();
    const maxAge = policy.reporting.slowChecksIntervalHours;
    const cached = new Map<string, CheckResult>();
    for (const id of SLOW_CHECK_IDS) {
      const fresh = this.#parts.slowChecks.fresh(id, now, maxAge);
      if (fresh !== undefined) {
        cached.set(id, fresh);
      }
    }
    const toRun = this.#parts.checks.filter((c) => !cached.has(c.id));
    const [ran, device] = await Promise.all([
      runChecks({
        checks: toRun,
        os,
        host,
        policy,
        log,
        // The os-updates check dates pending updates from its last result (first-seen.ts).
        previous: (id) =>
          this.#parts.slowChecks.last(id) ?? this.#results.find((r) => r.checkId === id),
      }),
      this.#parts.collectFacts(),
    ]);
    // A cache that cannot be written only means the slow checks run again next time.
    await this.#parts.slowChecks.store(ran).catch((error: unknown) => {
      log.warn({ error: errorText(error) }, 'slow-check results not cached');
    });
    const byId = new Map([...cached, ...ran.map((r) => [r.checkId, r] as const)]);
    const results = [
      ...this.#parts.checks.flatMap((c) => byId.get(c.id) ?? []),
      agentHealthResult(this.#passFailures, now),
    ];
    try {
      this.#parts.observePass?.(results);
    } catch (error) {
      log.error({ error: errorText(error) }, 'a pass observer failed');
    }
    const changed = results.some((r) => this.#queuedStatuses.get(r.checkId) !== r.status);
    const mustReport = this.#passMustReport;
    this.#passMustReport = false;
    if (!mustReport && !changed && this.#queuedStatuses.size > 0) {
      this.#results = results;
      this.#lastCheckAt = now;
      log.info({ ran: toRun.length, cached: cached.size }, 'requested pass: nothing changed');
      return results;
    }
    const report = buildReport({ device, policy, results, now });
    const added = await this.#parts.outbox.add({ kind: 'report', id: report.id, payload: report });
    this.#passFailures = null;
    if (added.dropped.length > 0) {
      log.warn({ dropped: added.dropped.length }, 'outbox full: dropped the oldest reports');
    }
    this.#queuedStatuses = new Map(results.map((r) => [r.checkId, r.status]));
    log.info(
      { overall: report.overall, changed, ran: toRun.length, cached: cached.size },
      'check pass finished',
    );
    this.#results = results;
    this.#lastCheckAt = now;
    this.#lastQueuedAt = now;
    this.#kickDelivery();
    return results;
  }

  #kickDelivery(): void {
    if (this.#stopped || this.#delivering !== null || !this.#started) {
      return;
    }
    this.#delivering = this.#deliver()
      .catch((error: unknown) => {
        // The outbox could not be read or changed (disk trouble). The items stay on disk and
        // the next pass or heartbeat tries again; an unhandled rejection would end the service.
        this.#lastDeliveryError = errorText(error);
        this.#parts.log.error({ error: this.#lastDeliveryError }, 'delivery failed');
      })
      .finally(() => {
        this.#delivering = null;
      });
  }

  async #deliver(): Promise<void> {
    const connection = await this.#connection();
    if (connection === null || !this.#parts.outbox.isDue()) {
      this.#scheduleDelivery();
      return;
    }
    await this.#deliverTo(connection);
  }

  async #deliverTo(connection: DeviceConnection): Promise<void> {
    await this.#noteDrops();
    const send = async (batch: OutboxItem[]): Promise<SendOutcome> => {
      const reports = batch.flatMap((i) => (i.kind === 'report' ? [i.payload] : []));
      const events = batch.flatMap((i) => (i.kind === 'event' ? [i.payload] : []));
      return this.#sendReports(connection, reports, events);
    };
    const result = await deliver(this.#parts.outbox, send);
    if (result.delivered > 0) {
      this.#lastDeliveryAt = this.#parts.host.now();
      // The server just heard from the device (its contact time moved): no heartbeat is due
      // until a whole interval passes without another accepted batch.
      this.#armHeartbeat();
    }
    if (result.status === 'backing-off') {
      this.#lastDeliveryError = errorText(result.error);
      this.#parts.log.warn(
        { error: this.#lastDeliveryError, retryAt: result.nextAttemptAt },
        'delivery failed; will retry',
      );
    } else if (result.status === 'drained') {
      this.#lastDeliveryError = null;
    }
    for (const item of result.rejected) {
      this.#parts.log.error(
        { id: item.id, reason: item.reason },
        'server refused an item; set aside',
      );
    }
    this.#scheduleDelivery();
  }

  /**
   * Sends reports as deltas from the last report the server holds when it can, else in full. A
   * delta batch the server refuses (it holds another base: restored, re-enrolled, or it takes no
   * deltas) goes again at once in full: the outbox holds the full reports, so nothing is lost.
   */
  async #sendReports(
    connection: DeviceConnection,
    reports: ComplianceReport[],
    events: AgentEvent[],
  ): Promise<SendOutcome> {
    const nowMs = this.#parts.host.now().getTime();
    const deltas = planDeltas(this.#reportBase, reports, nowMs);
    if (deltas !== null) {
      const outcome = await connection.sendBatch({
        schemaVersion: SCHEMA_VERSION,
        reports: [],
        deltas,
        events,
      });
      if (outcome.kind === 'accepted') {
        this.#noteAccepted(reports, outcome, true, nowMs);
        return outcome;
      }
      if (
        outcome.kind === 'retry-after' ||
        (outcome.kind === 'failed' && !isRefusal(outcome.error))
      ) {
        // An outage or a busy server says nothing about the base: the next try is a delta again.
        return outcome;
      }
      this.#parts.log.info(
        { error: outcome.kind === 'failed' ? errorText(outcome.error) : outcome.reason },
        'server refused the report deltas; sending the reports in full',
      );
      this.#reportBase = null;
    }
    const outcome = await connection.sendBatch({ schemaVersion: SCHEMA_VERSION, reports, events });
    if (outcome.kind === 'accepted') {
      this.#noteAccepted(reports, outcome, false, nowMs);
    }
    return outcome;
  }

  #noteAccepted(
    reports: readonly ComplianceReport[],
    outcome: Extract<SendOutcome, { kind: 'accepted' }>,
    asDeltas: boolean,
    nowMs: number,
  ): void {
    this.#reportBase = baseAfterAccepted({
      base: this.#reportBase,
      reports,
      acceptedIds: outcome.ids,
      asDeltas,
      heldDigest: outcome.reportDigest ?? null,
      nowMs,
    });
  }

  async #announceStop(detail: string): Promise<void> {
    try {
      await this.recordEvent({
        schemaVersion: SCHEMA_VERSION,
        id: crypto.randomUUID(),
        occurredAt: this.#parts.host.now().toISOString(),
        type: 'tamper.agent-stopped',
        data: { detail: detail.slice(0, 500) },
      });
    } catch (error) {
      this.#parts.log.error({ error: errorText(error) }, 'could not queue the stop notice');
      return;
    }
    // Only a device already connected sends now: enrolling on the way out would spend a token
    // in a process that is about to end. The delivery's own request time-out bounds the wait.
    const connection = this.#enrolled;
    if (connection !== null) {
      this.#delivering = this.#deliverTo(connection).catch((error: unknown) => {
        this.#parts.log.error({ error: errorText(error) }, 'stop notice not delivered');
      });
      await this.#delivering;
      this.#delivering = null;
    }
  }

  /** Turns what the outbox dropped or refused into events for ICT (just before a send). */
  async #noteDrops(): Promise<void> {
    for (const notice of await this.#parts.outbox.noteDrops()) {
      this.#parts.log.warn({ type: notice.type, ...notice.data }, 'outbox dropped items');
    }
  }

  #scheduleDelivery(): void {
    const at = this.#parts.outbox.nextAttemptAt();
    const depth = this.#parts.outbox.depth();
    if (this.#stopped || at === null || depth.reports + depth.events === 0) {
      return;
    }
    this.#after(Math.max(1000, at - this.#parts.host.now().getTime()), () => {
      this.#kickDelivery();
    });
  }

  async #connection(): Promise<DeviceConnection | null> {
    if (this.#enrolled === null) {
      try {
        this.#enrolled = await this.#parts.connection();
      } catch (error) {
        this.#lastDeliveryError = errorText(error);
        this.#parts.log.error({ error: this.#lastDeliveryError }, 'not enrolled');
      }
    }
    return this.#enrolled;
  }

  async #refreshPolicy(): Promise<void> {
    const connection = await this.#connection();
    if (connection === null) {
      return;
    }
    const answer = await connection.fetchPolicy(this.#parts.policy.etag());
    if (answer.kind === 'policy') {
      const offered = await this.#parts.policy.offer(
        answer.text,
        answer.etag,
        answer.deviceGroup ?? null,
      );
      if (offered.kind === 'accepted') {
        this.#parts.log.info({ policy: this.#parts.policy.current().name }, 'new policy in force');
      } else {
        // Keep enforcing the last good policy, and tell ICT: a bad policy is a tamper signal.
        this.#parts.log.error({ reason: offered.reason }, 'policy from the server rejected');
        await this.recordEvent({
          schemaVersion: SCHEMA_VERSION,
          id: crypto.randomUUID(),
          occurredAt: this.#parts.host.now().toISOString(),
          type: 'tamper.policy-rejected',
          data: { reason: offered.reason.slice(0, 2000) },
        });
      }
    } else if (answer.kind === 'not-modified') {
      // The policy stands; the group may have been renamed (or this is the first answer naming it).
      const persistError =
        (await this.#parts.policy.noteDeviceGroup?.(answer.deviceGroup ?? null)) ?? null;
      if (persistError !== null) {
        this.#parts.log.warn({ error: persistError }, 'could not keep the device group name');
      }
    } else if (answer.kind === 'failed') {
      this.#parts.log.warn(
        { error: errorText(answer.error) },
        'policy refresh failed; keeping the last good policy',
      );
    }
  }

  async #heartbeat(): Promise<void> {
    const depth = this.#parts.outbox.depth();
    const connection = await this.#connection();
    if (connection === null || depth.reports + depth.events > 0) {
      this.#kickDelivery();
      return;
    }
    // An empty batch: the server records that the device is alive without a full report.
    const outcome = await connection.sendBatch({
      schemaVersion: SCHEMA_VERSION,
      reports: [],
      events: [],
    });
    if (outcome.kind === 'accepted') {
      this.#lastDeliveryAt = this.#parts.host.now();
      this.#lastDeliveryError = null;
      this.#armHeartbeat();
    } else if (outcome.kind === 'failed') {
      // A refused heartbeat (this device retired by ICT, a revoked key) must show in status too.
      this.#lastDeliveryError = errorText(outcome.error);
    }
  }

  /**
   * (Re)starts the wait for a heartbeat: an empty signed batch goes only after a whole heartbeat
   * interval in which no batch was accepted. A report (full or delta) moves the device's contact
   * time exactly as a heartbeat does, so at a report every 15 minutes and a heartbeat every 5 a
   * device sends 3 signed requests per 15 minutes instead of 4, and "last seen" is still never
   * more than one interval old while the device is online.
   */
  #armHeartbeat(): void {
    if (this.#heartbeatTimer !== null) {
      clearTimeout(this.#heartbeatTimer);
      this.#timers.delete(this.#heartbeatTimer);
      this.#heartbeatTimer = null;
    }
    if (this.#stopped) {
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#heartbeatTimer = null;
      this.#heartbeat()
        .catch((error: unknown) => {
          this.#parts.log.error({ error: errorText(error) }, 'scheduled task failed');
        })
        .finally(() => {
          // A heartbeat that was accepted has already started the next wait.
          if (this.#heartbeatTimer === null) {
            this.#armHeartbeat();
          }
        });
    }, this.#parts.heartbeatMinutes * MINUTE);
    this.#heartbeatTimer = timer;
    this.#timers.add(timer);
  }

  /** A policy refresh and a check pass after `ms`, then the next at the policy's interval. */
  #passAfter(ms: number): void {
    this.#after(ms, async () => {
      try {
        await this.#refreshThenPass();
      } finally {
        // Whatever went wrong in this pass (a full disk, a probe that threw), the schedule goes
        // on: a service that stops checking while it keeps running is a silent device.
        const minutes = this.#parts.policy.current().reporting.intervalMinutes;
        // ±10 % jitter so a school's laptops, all started at 08:40, spread their reports.
        this.#passAfter(minutes * MINUTE * (0.9 + 0.2 * this.#random()));
      }
    });
  }

  /** A policy refresh, then a check pass; a failed refresh keeps the policy in force. */
  async #refreshThenPass(): Promise<void> {
    try {
      await this.#refreshPolicy();
    } catch (error) {
      this.#parts.log.error(
        { error: errorText(error) },
        'policy refresh failed; keeping the policy in force',
      );
    }
    await this.runPass();
  }

  #after(ms: number, task: () => void | Promise<void>): void {
    if (this.#stopped) {
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      Promise.resolve(task()).catch((error: unknown) => {
        this.#parts.log.error({ error: errorText(error) }, 'scheduled task failed');
      });
    }, ms);
    this.#timers.add(timer);
  }
}

/** A 4xx answer about the content (a refused delta, a base the server lacks), not an outage. */
function isRefusal(error: unknown): boolean {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === 'number' && status >= 400 && status < 500 && status !== 401;
}

function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 1000);
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
