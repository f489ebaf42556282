// Composition root of the privileged daemon: builds the service from the configuration, opens
// its state (credential, outbox, policy cache), serves the tray over IPC and starts the schedule.
import { randomUUID } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { SCHEMA_VERSION, type AgentStatus, type IpcPush } from '../../shared/index.ts';
import type { CheckDefinition } from '../core/checks/define-check.ts';
import type { AgentConfig } from '../core/config/agent-config.ts';
import { consoleUserSourceFor } from '../core/console-user/index.ts';
import { idleLockView } from '../core/idle-lock/idle-lock-view.ts';
import { displayRequestSourceFor } from '../core/idle-lock/power-requests/index.ts';
import { peerProofFor } from '../core/ipc-peer/index.ts';
import { networkHoldFor, type NetworkHold } from '../core/network-hold/index.ts';
import { retireEnrolmentToken, wasTokenUsed } from '../core/config/enrolment-token.ts';
import { enrolDevice, EnrolmentError } from '../core/enrolment.ts';
import { collectDeviceFacts } from '../core/facts/device-facts.ts';
import type { Host } from '../core/host.ts';
import { Outbox } from '../core/outbox/outbox.ts';
import type { OsName } from '../core/platform.ts';
import { PolicyCache } from '../core/policy/policy-cache.ts';
import { secretStoreFor } from '../core/secrets/index.ts';
import { ServerClient } from '../core/server-client.ts';
import { assertTrustedStateFolders, serviceUid } from '../core/trusted-path.ts';
import { usbPlatformFor, usbPlatformMissing } from '../core/usb/index.ts';
import { sessionActionsFor } from '../core/aup/decline/index.ts';
import { AntivirusWatch } from './antivirus-watch.ts';
import { AupNoTrayEpisodeFile } from './aup-no-tray-episode.ts';
import { AupRecord } from './aup-record.ts';
import { AupRoleMemory } from './aup-role-memory.ts';
import { AupSessions } from './aup-sessions.ts';
import { DisplayRequestCache } from './display-requests.ts';
import { IdleLockFailureRecorder } from './idle-lock-failures.ts';
import { IdleLockRecorder } from './idle-locks.ts';
import { NetworkHoldDuty } from './network-hold-duty.ts';
import { startIpcServer } from './ipc-server.ts';
import { AgentService, type DeviceConnection } from './service.ts';
import { SlowCheckCache } from './slow-checks.ts';
import { TrayRegistry } from './tray-registry.ts';
import { UsbGuard } from './usb-guard.ts';

/** A running service and how to stop it. */
export interface RunningService {
  service: AgentService;
  /** `announce`: why it stops, sent to ICT as `tamper.agent-stopped` (AgentService.stop). */
  stop(options?: { announce?: string }): Promise<void>;
}

/** Starts the service. Throws (CredentialError etc.) when it must not run: the caller exits. */
export async function runService(options: {
  os: OsName;
  host: Host;
  config: AgentConfig;
  /** The config file the token may sit in; it is removed from there once spent. */
  configFile?: string;
  agentVersion: string;
  checks: readonly CheckDefinition[];
  /** Managed settings ignored as not root's (managed-settings.ts), reported to ICT. */
  untrustedSettings?: readonly string[];
  /** The OS network hold; tests give one inside a network namespace. Default: the OS's own. */
  networkHold?: NetworkHold;
}): Promise<RunningService> {
  const { os, host, config } = options;
  const log = pino({
    level: config.logLevel,
    base: { program: 'hallpass-service' },
    redact: ['privateKeyPem', 'token', 'enrolmentToken', '*.privateKeyPem'],
  });
  await mkdir(config.stateDir, { recursive: true, mode: 0o700 });
  // Every state folder the service trusts must be its own before anything is read from it.
  await assertTrustedStateFolders(
    config.stateDir,
    ['outbox', 'outbox/rejected', 'policy'],
    serviceUid(),
  );
  const store = secretStoreFor(os, { stateDir: config.stateDir, run: host.run });
  // Fail fast on a credential with loose permissions or garbage: never run half-trusted.
  let credential = await store.read();

  const outbox = await Outbox.open({
    dir: join(config.stateDir, 'outbox'),
    retryStateFile: join(config.stateDir, 'delivery-retry.json'),
    // Drops not yet told to ICT survive a crash or power cut (issue 12).
    dropCountsFile: join(config.stateDir, 'drop-counts.json'),
    maxReports: config.outboxMaxReports,
    maxEvents: config.outboxMaxEvents,
    backoff: {
      baseMs: config.deliveryRetryBaseSeconds * 1000,
      capMs: Math.max(config.deliveryRetryCapSeconds, config.deliveryRetryBaseSeconds) * 1000,
    },
  });
  if (outbox.prunedAtOpen().length > 0) {
    log.info(
      { files: outbox.prunedAtOpen() },
      'outbox: set-aside files past their retention removed',
    );
  }
  if (outbox.droppedAtOpen().length > 0) {
    // Counted by the outbox too: ICT gets an `outbox.reports-dropped` notice with the next send.
    log.warn(
      { dropped: outbox.droppedAtOpen().length },
      'outbox over its bound at open: dropped the oldest reports',
    );
  }
  for (const file of outbox.corruptFiles()) {
    log.error(
      { file: file.file, movedTo: file.movedTo, reason: file.reason },
      'outbox file set aside',
    );
  }
  const dropCountsProblem = outbox.dropCountsProblem();
  if (dropCountsProblem !== null) {
    log.error({ problem: dropCountsProblem }, 'drop counts file removed; earlier drops not told');
  }
  const retryProblem = outbox.retryStateProblem();
  if (retryProblem !== null) {
    log.error({ problem: retryProblem }, 'delivery back-off file removed; retrying at once');
  }
  const opened = await PolicyCache.open(join(config.stateDir, 'policy'));
  for (const problem of opened.problems) {
    log.error({ problem }, 'policy cache problem; using the last good or default policy');
  }
  const slowChecks = await SlowCheckCache.open(config.stateDir);
  for (const problem of slowChecks.problems()) {
    log.error({ problem }, 'slow-check cache problem; the slow checks run again');
  }
  const collectFacts = async () => (await collectDeviceFacts(os, options.agentVersion)).facts;
  // Each pass's antivirus result is watched for protection turned off (tamper.antivirus-disabled);
  // the products last known on are kept in the state folder, so a restart does not hide one.
  const antivirusWatch = await AntivirusWatch.open(config.stateDir, {
    recordEvent: (event) => service.recordEvent(event),
    log,
    now: () => host.now(),
  });
  for (const problem of antivirusWatch.problems()) {
    log.error({ problem }, 'anti-virus watch state problem; starting with no previous state');
  }

  // The token is spent once: off the disk after enrolment, and never sent again (issue 12).
  const spendToken = async (token: string): Promise<void> => {
    try {
      const spent = await retireEnrolmentToken({
        stateDir: config.stateDir,
        configFile: options.configFile ?? null,
        token,
      });
      log.info({ removedFrom: spent.removedFrom }, 'enrolment token spent');
    } catch (error) {
      log.error({ error: (error as Error).message }, 'could not remove the spent enrolment token');
    }
  };
  if (credential !== null && config.enrolmentToken !== null) {
    // Enrolled before tokens were removed, or enrolled with `hallpass enroll`: remove it now.
    await spendToken(config.enrolmentToken);
  }

  const connect = async (): Promise<DeviceConnection | null> => {
    if (credential === null && config.serverUrl !== null && config.enrolmentToken !== null) {
      if (await wasTokenUsed(config.stateDir, config.enrolmentToken)) {
        throw new EnrolmentError(
          'token-spent',
          null,
          'this device already enrolled with the configured enrolment token and has lost its ' +
            'credential since: ask ICT to allow its re-enrolment (or for a new token)',
        );
      }
      const enrolment = await enrolDevice({
        serverUrl: config.serverUrl,
        token: config.enrolmentToken,
        facts: await collectFacts(),
        store,
      });
      log.info({ deviceId: enrolment.deviceId, cloneSuspect: enrolment.cloneSuspect }, 'enrolled');
      await spendToken(config.enrolmentToken);
      credential = await store.read();
    }
    if (credential === null) {
      return null;
    }
    const client = new ServerClient({ credential });
    return {
      deviceId: credential.deviceId,
      serverUrl: credential.serverUrl,
      fetchPolicy: (etag) => client.fetchPolicy(etag),
      fetchAupSignatures: (user) => client.fetchAupSignatures(user),
      sendBatch: (batch) => client.sendBatch(batch),
    };
  };

  // Start-up asks from several places at once (the first delivery, the policy refresh, the
  // heartbeat): share one attempt, or an unenrolled device enrols twice and the server holds two
  // devices for one machine (flagged as a cloned image).
  let connecting: Promise<DeviceConnection | null> | null = null;
  const connection = (): Promise<DeviceConnection | null> => {
    connecting ??= connect().finally(() => {
      connecting = null;
    });
    return connecting;
  };

  // Built before the service, which asks it for its status; started once the outbox and IPC are
  // up, so its first decisions have somewhere to go.
  const pushListeners = new Set<(push: IpcPush) => void>();
  const usbGuard: UsbGuard | null = config.usbGuard
    ? new UsbGuard({
        platform: usbPlatformFor(os, host, { log }),
        unavailable: usbPlatformMissing(os),
        policy: opened.cache,
        consoleUser: consoleUserSourceFor(os, host, log),
        recordEvent: (event): Promise<void> => service.recordEvent(event),
        push: (decision) => {
          for (const listener of pushListeners) {
            listener({ push: 'usb:decision', decision });
          }
        },
        log,
        now: () => host.now(),
      })
    : null;
  const service = new AgentService({
    os,
    host,
    agentVersion: options.agentVersion,
    checks: options.checks,
    outbox,
    policy: opened.cache,
    slowChecks,
    collectFacts,
    connection,
    log,
    heartbeatMinutes: config.heartbeatMinutes,
    startupJitterMs: config.startupJitterSeconds * 1000,
    usbStatus: (): AgentStatus['usb'] =>
      usbGuard?.status() ?? {
        mode: opened.cache.current().usb.mode,
        problem: 'the USB guard is off in the agent configuration (usbGuard: false)',
        recent: [],
      },
    observePass: (results) => {
      antivirusWatch.observe(results);
    },
  });
  // No process-wide 'unhandledRejection' handler that carries on: a rejection nobody handled is
  // a bug, and a bug is logged and ends the process so the service manager restarts it (STYLE
  // §9; Node's default prints the stack and exits 1). Swallowing it would leave a service whose
  // state nobody knows running silently. Client input and failing passes are not bugs: the IPC
  // server turns both into answers, so no local user can reach that path.
  const consoleUser = consoleUserSourceFor(os, host, log);
  const idleLocks = new IdleLockRecorder({
    consoleUser,
    recordEvent: (event) => service.recordEvent(event),
    now: () => host.now(),
  });
  const idleLockFailures = new IdleLockFailureRecorder({
    consoleUser,
    recordEvent: (event) => service.recordEvent(event),
    now: () => host.now(),
    onError: (error) => {
      log.error({ error: String(error) }, 'could not queue an idle-lock failure event');
    },
  });
  // Read only when the tray asks (idle:display-requests), through the fixed-environment runner.
  const displayRequests = new DisplayRequestCache({
    source: displayRequestSourceFor(os, host.run),
    now: () => host.now(),
  });
  const aupRecord = await AupRecord.open(config.stateDir);
  for (const problem of aupRecord.problems()) {
    log.error({ problem }, 'AUP signature record problem; users may be asked to sign again');
  }
  const noTrayEpisode = await AupNoTrayEpisodeFile.open(config.stateDir, {
    now: () => host.now(),
  });
  for (const problem of noTrayEpisode.problems()) {
    log.error({ problem }, 'AUP no-tray episode problem');
  }
  const roleMemory = await AupRoleMemory.open(config.stateDir, { now: () => host.now() });
  for (const problem of roleMemory.problems()) {
    log.error({ problem }, 'AUP role memory problem');
  }
  const networkHold = new NetworkHoldDuty({
    hold: options.networkHold ?? networkHoldFor(os, { run: host.run, stateDir: config.stateDir }),
    serverUrl: () => credential?.serverUrl ?? config.serverUrl,
    allow: () => opened.cache.current().aup.networkHold?.allow ?? [],
    resolve: async (name) => (await lookup(name, { all: true })).map((entry) => entry.address),
    log,
  });
  const trays = new TrayRegistry({
    consoleUser,
    policy: opened.cache,
    recordEvent: (event) => service.recordEvent(event),
    now: () => host.now(),
    log,
  });
  const aupSessions = new AupSessions({
    networkHold,
    // A due AUP that no tray shows within the tray allowance gets the decline action anyway.
    trayConnected: (user) => trays.connectedFor(user),
    // Kept in the state folder: a restart continues the allowance rather than giving it again.
    noTrayEpisode,
    // Kept in the state folder: a user whose directory groups cannot be read keeps their role.
    roleMemory,
    // As the server last named it with the policy: rules by device group match on it.
    deviceGroup: () => opened.cache.deviceGroup(),
    consoleUser,
    policy: opened.cache,
    record: aupRecord,
    lookup: async (user) => {
      const device = await connection().catch(() => null);
      return (await device?.fetchAupSignatures?.(user)) ?? null;
    },
    actions: sessionActionsFor(os, host),
    recordEvent: (event) => service.recordEvent(event),
    push: (aup) => {
      for (const listener of pushListeners) {
        listener({ push: 'aup:required', aup });
      }
    },
    log,
    now: () => host.now(),
    // The tray asks aup:pending itself when it starts at login; the poll only brings the push.
    // On Windows each look starts PowerShell (seconds of CPU, PLATFORMS.md §10): less often.
    pollMs: os === 'windows' ? 30_000 : 5_000,
  });
  const closeIpc = await startIpcServer(config.ipcPath, {
    status: () => ({ ...service.status(), trays: trays.list() }),
    consoleUser,
    peerProof: peerProofFor(os, host, config.ipcPath),
    trayHello: (peer) => trays.connected(peer),
    runChecks: () => service.runPass({ requested: true }),
    pushes: (publish) => {
      pushListeners.add(publish);
      return () => pushListeners.delete(publish);
    },
    idleLocked: (idleSeconds) => idleLocks.record(idleSeconds),
    idleLockFailed: (kind, reason) => idleLockFailures.record(kind, reason),
    // Resolved on each ask, with the groups the service reads itself: the tray asks when it
    // connects and whenever the policy version in the status changes.
    idlePolicy: async () =>
      idleLockView(opened.cache.current().idleLock, await consoleUser.current()),
    displayRequests: () => displayRequests.read(),
    aup: {
      pending: (peer) => aupSessions.pending(peer),
      sign: (request, peer) => aupSessions.sign(request, peer),
      decline: (request, peer) => aupSessions.decline(request, peer),
    },
  });
  // Corrupt state was set aside, never a crash; only root can write it, so ICT hears of it too.
  const corrupt = [
    ...outbox.corruptFiles().map((file) => ({
      store: 'outbox' as const,
      detail: `${file.file}: ${file.reason}${file.movedTo === null ? '' : ` (moved to ${file.movedTo})`}`,
    })),
    ...(retryProblem === null ? [] : [{ store: 'outbox' as const, detail: retryProblem }]),
    ...(dropCountsProblem === null
      ? []
      : [{ store: 'outbox' as const, detail: dropCountsProblem }]),
    ...opened.problems.map((problem) => ({ store: 'policy-cache' as const, detail: problem })),
    ...slowChecks
      .problems()
      .map((problem) => ({ store: 'slow-check-cache' as const, detail: problem })),
    ...(options.untrustedSettings ?? []).map((problem) => ({
      store: 'managed-settings' as const,
      detail: problem,
    })),
  ];
  for (const problem of options.untrustedSettings ?? []) {
    log.error({ problem }, 'managed settings not trusted; ignored');
  }
  for (const data of corrupt) {
    await service.recordEvent({
      schemaVersion: SCHEMA_VERSION,
      id: randomUUID(),
      occurredAt: host.now().toISOString(),
      type: 'tamper.state-corrupt',
      data: { store: data.store, detail: data.detail.slice(0, 2000) },
    });
  }
  service.start();
  trays.start();
  // Not awaited: an OS that hangs (a stuck udevadm) must not hold up the service; start() never
  // rejects, and what the OS refuses is in the guard's status.
  void usbGuard?.start();
  // Before any decline can hold (the duty runs its work in order): a hold a crashed run left on
  // Windows or macOS is cleared here. Not awaited, like the USB guard: start() never rejects.
  void networkHold.start();
  aupSessions.start();
  log.info({ stateDir: config.stateDir, ipc: config.ipcPath }, 'service started');
  return {
    service,
    async stop(stopOptions = {}) {
      await closeIpc();
      aupSessions.stop();
      // A held network opens when the service stops (and, owned by it, when it dies).
      await networkHold.stop();
      await trays.stop();
      // Before the service: its folded event counts go into the outbox while it is still open.
      await usbGuard?.stop();
      await idleLockFailures.stop();
      await service.stop(stopOptions);
      // After the service (its pass in flight may still hand the watch a result), before the
      // outbox closes: an event for protection turned off is queued, never lost on the way out.
      await antivirusWatch.stop();
      await outbox.close();
      log.info({}, 'service stopped');
    },
  };
}
