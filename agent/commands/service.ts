import { allChecks } from '../core/checks/index.ts';
import { configFilePath, loadAgentConfig, type AgentConfig } from '../core/config/agent-config.ts';
import { managedSettingsReaders } from '../core/config/managed/index.ts';
import { assertWindowsTokenFileAccess } from '../core/config/token-file/windows.ts';
import type { Host } from '../core/host.ts';
import type { OsName } from '../core/platform.ts';
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

/**
 * Loads the agent configuration: managed settings > config file > defaults; flags override
 * paths. `untrusted` says which managed settings were ignored as not root's.
 */
export async function agentSettings(
  options: AgentCommandOptions,
): Promise<{ config: AgentConfig; untrusted: string[] }> {
  const managed = await managedSettingsReaders[options.os](options.host);
  const config = await loadAgentConfig({
    os: options.os,
    managed: managed.settings,
    overrides: options.overrides,
    ...(options.configFile === undefined ? {} : { configFile: options.configFile }),
    checkWindowsTokenFile: (path) => assertWindowsTokenFileAccess(options.host, path),
  });
  return { config, untrusted: managed.untrusted };
}

/** The agent configuration alone (see agentSettings). */
export async function agentConfig(options: AgentCommandOptions): Promise<AgentConfig> {
  return (await agentSettings(options)).config;
}

/** `hallpass service`: runs in the foreground until SIGINT/SIGTERM; the OS's service manager restarts it. */
export async function serviceCommand(options: AgentCommandOptions): Promise<number> {
  // Listen for the stop signals before anything else, so a stop during start-up is orderly too.
  let stopRequested: ((signal: NodeJS.Signals) => void) | null = null;
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    stopRequested = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => stopRequested?.(signal);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const { config, untrusted } = await agentSettings(options);
  const running = await runService({
    os: options.os,
    host: options.host,
    config,
    untrustedSettings: untrusted,
    configFile: configFilePath(options.os, options.configFile),
    agentVersion: options.agentVersion,
    checks: allChecks,
  });
  const signal = await stopSignal;
  try {
    // A clean stop is told to ICT (issue 17); a crash or SIGKILL is not, and shows as silence.
    await running.stop({ announce: stopDetail(signal) });
    return 0;
  } catch {
    return 1;
  }
}

/** What ICT reads about a clean stop: who sends each signal to a service. */
export function stopDetail(signal: NodeJS.Signals): string {
  return signal === 'SIGINT'
    ? 'the Hallpass service was interrupted (SIGINT: Ctrl-C in a terminal running it)'
    : `the Hallpass service was stopped (${signal}: the service manager stopping it, an ` +
        'administrator, package removal or upgrade, or the device shutting down)';
}
