import type { Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Type, type Static } from 'typebox';
import { describeProblems, validate } from '../../../shared/index.ts';
import type { OsName } from '../platform.ts';

/** Settings of the agent service. Managed settings beat the config file, which beats defaults. */
export const AgentConfigSchema = Type.Object(
  {
    serverUrl: Type.Union([Type.String({ pattern: '^https?://', maxLength: 500 }), Type.Null()]),
    enrolmentToken: Type.Union([Type.String({ minLength: 16, maxLength: 200 }), Type.Null()]),
    stateDir: Type.String({ minLength: 1, maxLength: 500 }),
    ipcPath: Type.String({ minLength: 1, maxLength: 500 }),
    logLevel: Type.Union([
      Type.Literal('fatal'),
      Type.Literal('error'),
      Type.Literal('warn'),
      Type.Literal('info'),
      Type.Literal('debug'),
      Type.Literal('trace'),
      Type.Literal('silent'),
    ]),
    outboxMaxReports: Type.Integer({ minimum: 10, maximum: 100_000 }),
    /** Events waiting beyond this are refused and counted (a `tamper.events-dropped` notice). */
    outboxMaxEvents: Type.Integer({ minimum: 10, maximum: 1_000_000 }),
    heartbeatMinutes: Type.Integer({ minimum: 1, maximum: 1440 }),
    /** First delivery after start-up waits up to this long, so a school's devices booting at
     * 08:40 do not all send at once. */
    startupJitterSeconds: Type.Integer({ minimum: 0, maximum: 3600 }),
    deliveryRetryBaseSeconds: Type.Integer({ minimum: 1, maximum: 3600 }),
    deliveryRetryCapSeconds: Type.Integer({ minimum: 1, maximum: 86_400 }),
    /**
     * Runs the USB storage guard. Off only where the service must not change the machine's USB
     * authorisation (tests on a developer's host); status then says the guard is off.
     */
    usbGuard: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type AgentConfig = Static<typeof AgentConfigSchema>;

/** A bad setting, naming the key and its source. */
export class AgentConfigError extends Error {}

/** Where each OS keeps the agent's files (ARCHITECTURE.md; installers create them). */
export const PLATFORM_PATHS: Record<
  OsName,
  { configFile: string; stateDir: string; ipcPath: string }
> = {
  linux: {
    configFile: '/etc/hallpass/agent.json',
    stateDir: '/var/lib/hallpass',
    ipcPath: '/run/hallpass/agent.sock',
  },
  windows: {
    configFile: 'C:\\ProgramData\\Hallpass\\agent.json',
    stateDir: 'C:\\ProgramData\\Hallpass\\state',
    ipcPath: '\\\\.\\pipe\\hallpass-agent',
  },
  darwin: {
    configFile: '/Library/Application Support/Hallpass/agent.json',
    stateDir: '/Library/Application Support/Hallpass/state',
    ipcPath: '/var/run/hallpass-agent.sock',
  },
};

/** Defaults for an OS. */
export function defaultAgentConfig(os: OsName): AgentConfig {
  const paths = PLATFORM_PATHS[os];
  return {
    serverUrl: null,
    enrolmentToken: null,
    stateDir: paths.stateDir,
    ipcPath: paths.ipcPath,
    logLevel: 'info',
    outboxMaxReports: 2000,
    // An event is under 1 KB: 20,000 is weeks of ordinary USB and AUP traffic offline, and
    // at most ~20 MB of a state disk however hard something floods.
    outboxMaxEvents: 20_000,
    heartbeatMinutes: 5,
    startupJitterSeconds: 60,
    deliveryRetryBaseSeconds: 30,
    deliveryRetryCapSeconds: 3600,
    usbGuard: true,
  };
}

/** The config file an OS uses, or the one given with --config. */
export function configFilePath(os: OsName, configFile?: string): string {
  return configFile ?? PLATFORM_PATHS[os].configFile;
}

/** Reads a JSON settings file; a missing file is no settings, an unreadable one an error. */
export async function readJsonSettings(path: string): Promise<Record<string, unknown>> {
  return (await readSettingsFile(path)).settings;
}

/** A settings file's content and, when it exists, what fstat said of the file read. */
async function readSettingsFile(
  path: string,
): Promise<{ settings: Record<string, unknown>; stats: Stats | null }> {
  let text: string;
  let stats: Stats;
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return { settings: {}, stats: null };
    }
    throw new AgentConfigError(
      `${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  try {
    // fstat of the handle read: the permission check below is about this very file.
    stats = await handle.stat();
    text = await handle.readFile('utf8');
  } catch (error) {
    throw new AgentConfigError(
      `${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  } finally {
    await handle.close();
  }
  return { settings: parseSettingsText(path, text), stats };
}

/** A settings file's text as a JSON object; anything else is an AgentConfigError naming it. */
export function parseSettingsText(path: string, text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new AgentConfigError(`${path}: not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new AgentConfigError(`${path}: expected a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * A config file that holds the enrolment token must be readable by the service's user only
 * (root in production): a pupil who reads the token could enrol devices of their own. POSIX
 * modes only; Windows checks the file's ACL instead (token-file/windows.ts).
 */
export function checkTokenFilePermissions(
  path: string,
  stats: Pick<Stats, 'uid' | 'mode'>,
  serviceUid: number,
): void {
  if (stats.uid !== 0 && stats.uid !== serviceUid) {
    throw new AgentConfigError(
      `${path} holds the enrolment token but is owned by uid ${String(stats.uid)}, who could ` +
        `read or change it: refusing to start. Fix: chown root ${path} && chmod 600 ${path}`,
    );
  }
  if ((stats.mode & 0o077) !== 0) {
    const mode = (stats.mode & 0o777).toString(8).padStart(3, '0');
    throw new AgentConfigError(
      `${path} holds the enrolment token but its mode ${mode} lets other users read it: ` +
        `refusing to start. Fix: chmod 600 ${path}`,
    );
  }
}

/**
 * Builds the configuration. `managed` comes from the OS's managed settings (see
 * managed-settings.ts); `overrides` from the command line (state directory for tests and the
 * demo). Fails fast with the key and the source of a bad value.
 */
export async function loadAgentConfig(options: {
  os: OsName;
  configFile?: string;
  managed: Record<string, unknown>;
  overrides: Partial<AgentConfig>;
  /** The user the service runs as, who may own the config file besides root (default: ours). */
  serviceUid?: number;
  /**
   * On Windows, where modes say nothing: throws an AgentConfigError unless only SYSTEM and
   * Administrators may read the file (token-file/windows.ts). Without it Windows is unchecked.
   */
  checkWindowsTokenFile?: (path: string) => Promise<void>;
}): Promise<AgentConfig> {
  const file = configFilePath(options.os, options.configFile);
  const { settings: fromFile, stats } = await readSettingsFile(file);
  const token = fromFile.enrolmentToken;
  if (stats !== null && token !== undefined && token !== null) {
    if (options.os !== 'windows') {
      checkTokenFilePermissions(file, stats, options.serviceUid ?? process.getuid?.() ?? 0);
    } else if (options.checkWindowsTokenFile !== undefined) {
      await options.checkWindowsTokenFile(file);
    }
  }
  const merged = {
    ...defaultAgentConfig(options.os),
    ...fromFile,
    ...options.managed,
    ...options.overrides,
  };
  const checked = validate(AgentConfigSchema, merged);
  if (!checked.ok) {
    const keys = new Set(checked.problems.map((p) => p.path.split('/')[1] ?? ''));
    const source = [...keys]
      .map((k) => (k in options.managed ? 'managed settings' : k in fromFile ? file : 'defaults'))
      .join(', ');
    throw new AgentConfigError(
      `invalid agent configuration (${source}): ${describeProblems(checked.problems)}`,
    );
  }
  return checked.value;
}
