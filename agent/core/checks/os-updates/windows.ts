import { Type } from 'typebox';
import { describeProblems, validate } from '../../../../shared/index.ts';
import type { Host } from '../../host.ts';
import { parseJsonOutput, runPowerShellScript } from '../../powershell.ts';
import { platformCheck, type Parsed } from '../define-check.ts';
import { MAX_TITLES, type OsUpdatesFacts } from './facts.ts';

/** The WUA search goes to Windows Update or WSUS and can take minutes (PLATFORMS.md §3). */
export const WINDOWS_TIMEOUT_MS = 10 * 60_000;

/** Runs windows.ps1 and returns its standard output (one JSON object). */
export function probe(host: Host): Promise<string> {
  return runPowerShellScript(host, new URL('./windows.ps1', import.meta.url), WINDOWS_TIMEOUT_MS);
}

// "Security Updates" classification; a GUID, so it does not depend on the display language.
const SECURITY_CATEGORY = '0fa1201d-4330-4fa8-8ae9-b877473b6441';

const strict = { additionalProperties: false } as const;
const nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()]);
/** A section whose try block failed: only its error message. */
const FailedSection = Type.Object({ error: Type.String() }, strict);
const section = (fields: Parameters<typeof Type.Object>[0]) =>
  Type.Union([Type.Object({ ...fields, error: Type.Null() }, strict), FailedSection]);

/**
 * The JSON windows.ps1 prints: its contract, checked before anything is read, and checked
 * against the script's own source by test/agent/core/checks/windows-script-contract.test.ts.
 */
export const ScriptOutputSchema = Type.Object(
  {
    schema: Type.Literal(1),
    os: section({
      productName: Type.String(),
      displayVersion: nullable(Type.String()),
      currentBuild: Type.String(),
      ubr: nullable(Type.Integer()),
    }),
    reboot: section({
      cbsRebootPending: Type.Boolean(),
      wuRebootRequired: Type.Boolean(),
      pendingFileRename: Type.Boolean(),
    }),
    policy: section({
      noAutoUpdate: nullable(Type.Integer()),
      auOptions: nullable(Type.Integer()),
      wuauservStart: nullable(Type.Integer()),
    }),
    lastInstall: Type.Object(
      { lastInstallationSuccessDate: nullable(Type.String()), error: nullable(Type.String()) },
      strict,
    ),
    updates: nullable(
      Type.Array(
        Type.Object(
          {
            title: Type.String(),
            kb: Type.Array(Type.String()),
            msrcSeverity: nullable(Type.String()),
            categoryIds: Type.Array(Type.String()),
            rebootRequired: Type.Boolean(),
          },
          strict,
        ),
      ),
    ),
    search: Type.Object(
      { resultCode: nullable(Type.Integer()), error: nullable(Type.String()) },
      strict,
    ),
  },
  strict,
);

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isStringOrNull = (value: unknown): value is string | null =>
  value === null || typeof value === 'string';
const isIntOrNull = (value: unknown): value is number | null =>
  value === null || Number.isInteger(value);
const isStringArray = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((entry) => typeof entry === 'string');

interface Update {
  title: string;
  security: boolean;
}

function readUpdate(value: unknown): Update | null {
  if (!isObject(value) || typeof value.title !== 'string' || !isStringOrNull(value.msrcSeverity)) {
    return null;
  }
  if (!isStringArray(value.categoryIds) || typeof value.rebootRequired !== 'boolean') {
    return null;
  }
  const severity = value.msrcSeverity?.trim() ?? '';
  const security =
    severity !== '' || value.categoryIds.some((id) => id.toLowerCase() === SECURITY_CATEGORY);
  return { title: value.title, security };
}

/** Records a failed or missing script section in `problems`; true when it did not run. */
function sectionError(section: unknown, name: string, problems: string[]): boolean {
  if (!isObject(section)) {
    problems.push(`${name}: missing from the script output`);
    return true;
  }
  if (typeof section.error === 'string') {
    problems.push(`${name}: ${section.error}`);
    return true;
  }
  return false;
}

/**
 * Whether updates install by themselves. Group Policy (learn.microsoft.com, "Configure
 * Automatic Updates"): NoAutoUpdate=1 turns them off; AUOptions 2 only notifies before
 * downloading. A disabled wuauserv service (Start=4) stops them too. No policy = Windows'
 * default, automatic.
 */
function automatic(policy: Json): { on: boolean; detail: string } | null {
  const { noAutoUpdate, auOptions, wuauservStart } = policy;
  if (!isIntOrNull(noAutoUpdate) || !isIntOrNull(auOptions) || !isIntOrNull(wuauservStart)) {
    return null;
  }
  const detail = `policy NoAutoUpdate=${String(noAutoUpdate)}, AUOptions=${String(auOptions)}; wuauserv Start=${String(wuauservStart)} (null = not set)`;
  const off = noAutoUpdate === 1 || auOptions === 1 || auOptions === 2 || wuauservStart === 4;
  return { on: !off, detail };
}

function unrecognised(detail: string): Parsed<OsUpdatesFacts> {
  return { ok: false, code: 'unrecognised-output', detail };
}

/** Parses windows.ps1's JSON into facts; sections that failed become nulls plus a problem. */
export function parse(raw: string): Parsed<OsUpdatesFacts> {
  const json = parseJsonOutput(raw);
  if (!isObject(json) || json.schema !== 1) {
    return unrecognised(`not the os-updates script's JSON: ${raw.trim().slice(0, 200)}`);
  }
  const checked = validate(ScriptOutputSchema, json);
  if (!checked.ok) {
    return unrecognised(
      `windows.ps1 printed an unexpected shape: ${describeProblems(checked.problems)}`,
    );
  }
  const problems: string[] = [];

  let osName: string | null = null;
  let osVersion: string | null = null;
  if (!sectionError(json.os, 'os', problems) && isObject(json.os)) {
    const { productName, displayVersion, currentBuild, ubr } = json.os;
    if (typeof currentBuild !== 'string' || !/^\d+$/.test(currentBuild) || !isIntOrNull(ubr)) {
      return unrecognised(`unexpected build fields: ${JSON.stringify(json.os).slice(0, 200)}`);
    }
    // ProductName keeps "Windows 10" on Windows 11; build 22000 and later is Windows 11
    // (PLATFORMS.md §3; learn.microsoft.com Windows 11 release information).
    const family = Number(currentBuild) >= 22000 ? 'Windows 11' : 'Windows 10';
    const release = typeof displayVersion === 'string' ? ` ${displayVersion}` : '';
    const product = typeof productName === 'string' ? ` (registry: ${productName})` : '';
    osName = `${family}${release}${product}`;
    osVersion = `10.0.${currentBuild}${ubr === null ? '' : `.${ubr}`}`;
  }

  let rebootPending: boolean | null = null;
  if (!sectionError(json.reboot, 'reboot', problems) && isObject(json.reboot)) {
    const flags = [
      json.reboot.cbsRebootPending,
      json.reboot.wuRebootRequired,
      json.reboot.pendingFileRename,
    ];
    if (!flags.every((flag) => typeof flag === 'boolean')) {
      return unrecognised('unexpected reboot fields');
    }
    rebootPending = flags.some(Boolean);
  }

  let automaticUpdates: boolean | null = null;
  let automaticUpdatesDetail = 'could not read the Windows Update policy';
  if (!sectionError(json.policy, 'policy', problems) && isObject(json.policy)) {
    const setting = automatic(json.policy);
    if (setting === null) {
      return unrecognised('unexpected policy fields');
    }
    automaticUpdates = setting.on;
    automaticUpdatesDetail = setting.detail;
  }

  let lastUpdateAt: string | null = null;
  if (!sectionError(json.lastInstall, 'lastInstall', problems) && isObject(json.lastInstall)) {
    const date = json.lastInstall.lastInstallationSuccessDate;
    if (date !== null && (typeof date !== 'string' || Number.isNaN(Date.parse(date)))) {
      return unrecognised('unexpected LastInstallationSuccessDate');
    }
    lastUpdateAt = date === null ? null : new Date(date).toISOString();
  }

  let pending: Update[] | null = null;
  if (!sectionError(json.search, 'search', problems)) {
    if (!Array.isArray(json.updates)) {
      return unrecognised('the update search ran but listed no updates array');
    }
    const updates = json.updates.map(readUpdate);
    if (updates.some((update) => update === null)) {
      return unrecognised('an update in the search result has unexpected fields');
    }
    pending = updates.filter((update): update is Update => update !== null);
  }
  const security = pending?.filter((update) => update.security) ?? null;

  return {
    ok: true,
    facts: {
      osName,
      osReleaseId: null,
      osVersion,
      automaticUpdates,
      automaticUpdatesDetail,
      lastUpdateAt,
      lastUpdateSource: 'Microsoft.Update.AutoUpdate Results.LastInstallationSuccessDate',
      pendingUpdates: pending?.length ?? null,
      pendingSecurityUpdates: security?.length ?? null,
      pendingSecurityTitles: (security ?? []).slice(0, MAX_TITLES).map((update) => update.title),
      pendingFirstSeen: {},
      rebootPending,
      problems,
    },
  };
}

/** The Windows half of the os-updates check. */
export const windows = platformCheck({ probe, parse });
