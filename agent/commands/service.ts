import { allChecks } from '../core/checks/index.ts';
import { loadAgentConfig, type AgentConfig } from '../core/config/agent-config.ts';
import { managedSettingsReaders } from '../core/config/managed/index.ts';
import { enrolDevice } from '../core/enrolment.ts';
import { collectDeviceFacts } from '../core/facts/device-facts.ts';
import type { Host } from '../core/host.ts';
import type { OsName } from '../core/platform.ts';
import { secretStoreFor } from '../core/secrets/index.ts';
import { runService } from '../service/run-service.ts';

/** Command-line options shared by the service commands. */
export interface AgentCommandOptions {
  os: OsName;
  host: Host;
  agentVersion: string;
  configFile: string | undefined;
  overrides: Partial<AgentConfig>;
  write: (text: string) => void;
}

/** Loads the agent configuration: managed settings > config file > defaults; flags override paths. */
export async function agentConfig(options: AgentCommandOptions): Promise<AgentConfig> {
  const managed = await managedSettingsReaders[options.os](options.host);
  return loadAgentConfig({
    os: options.os,
    managed,
    overrides: options.overrides,
    ...(options.configFile === undefined ? {} : { configFile: options.configFile }),
  });
}

/** `hallpass service`: runs in the foreground until SIGINT/SIGTERM; the OS's service manager restarts it. */
export async function serviceCommand(options: AgentCommandOptions): Promise<number> {
  // Listen for the stop signals before anything else, so a stop during start-up is orderly too.
  let stopRequested: (() => void) | null = null;
  const stopSignal = new Promise<void>((resolve) => {
    stopRequested = resolve;
  });
  const onSignal = () => stopRequested?.();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const config = await agentConfig(options);
  const running = await runService({
    os: options.os,
    host: options.host,
    config,
    agentVersion: options.agentVersion,
    checks: allChecks,
  });
  await stopSignal;
  try {
    await running.stop();
    return 0;
  } catch {
    return 1;
  }
}

/** A refusal of `hallpass enroll` that the user can act on. */
export class EnrolRefused extends Error {}

/** `hallpass enroll --server URL --token TOKEN [--replace]`: exchanges the token once. */
export async function enrolCommand(
  options: AgentCommandOptions & { serverUrl: string; token: string; replace: boolean },
): Promise<number> {
  const config = await agentConfig(options);
  const store = secretStoreFor(options.os, { stateDir: config.stateDir, run: options.host.run });
  const existing = await store.read();
  if (existing !== null && !options.replace) {
    throw new EnrolRefused(
      `this device is already enrolled as ${existing.deviceId} at ${existing.serverUrl}; use --replace to re-enrol it explicitly`,
    );
  }
  const { facts } = await collectDeviceFacts(options.os, options.agentVersion);
  const enrolment = await enrolDevice({
    serverUrl: options.serverUrl,
    token: options.token,
    facts,
    store,
    ...(existing === null ? {} : { replaces: existing.deviceId }),
  });
  options.write(
    `Enrolled as device ${enrolment.deviceId}; the credential is in ${store.location}.\n` +
      (enrolment.cloneSuspect
        ? 'Note: another enrolled device has this machine id (a cloned image?); ICT will see both flagged.\n'
        : ''),
  );
  return 0;
}
