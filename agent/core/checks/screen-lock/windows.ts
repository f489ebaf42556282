import { Type } from 'typebox';
import { validate } from '../../../../shared/index.ts';
import type { Host } from '../../host.ts';
import { parseJsonOutput, runPowerShellScript } from '../../powershell.ts';
import { platformCheck, type Parsed } from '../define-check.ts';
import { noSession, type LockSource, type ScreenLockFacts } from './facts.ts';

const TIMEOUT_MS = 30_000;
const VALUE_NAMES = ['ScreenSaveActive', 'ScreenSaverIsSecure', 'ScreenSaveTimeOut'] as const;

type ScreenSaverValues = Record<(typeof VALUE_NAMES)[number], string | null>;

const nullableString = Type.Union([Type.String(), Type.Null()]);
const ValuesSchema = Type.Union([
  Type.Object(
    {
      ScreenSaveActive: nullableString,
      ScreenSaverIsSecure: nullableString,
      ScreenSaveTimeOut: nullableString,
    },
    { additionalProperties: false },
  ),
  Type.Null(),
]);

/**
 * The JSON windows.ps1 prints: its contract, checked before anything is read, and checked
 * against the script's own source by test/agent/core/checks/windows-script-contract.test.ts.
 */
export const ScriptOutputSchema = Type.Object(
  {
    consoleUser: nullableString,
    sid: nullableString,
    inactivityTimeoutSecs: Type.Union([Type.Integer(), Type.Null()]),
    user: ValuesSchema,
    userPolicy: ValuesSchema,
    error: nullableString,
  },
  { additionalProperties: false },
);

/** The JSON object windows.ps1 prints. */
export interface WindowsProbeOutput {
  consoleUser: string | null;
  sid: string | null;
  inactivityTimeoutSecs: number | null;
  user: ScreenSaverValues | null;
  userPolicy: ScreenSaverValues | null;
  error: string | null;
}

/** Runs windows.ps1 and returns its standard output. */
export function probe(host: Host): Promise<string> {
  return runPowerShellScript(host, new URL('./windows.ps1', import.meta.url), TIMEOUT_MS);
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const stringOrNull = (value: unknown): value is string | null =>
  value === null || typeof value === 'string';

function readValues(value: unknown): ScreenSaverValues | null | undefined {
  if (value === null) {
    return null;
  }
  if (!isRecord(value) || !VALUE_NAMES.every((name) => stringOrNull(value[name]))) {
    return undefined;
  }
  return {
    ScreenSaveActive: value.ScreenSaveActive as string | null,
    ScreenSaverIsSecure: value.ScreenSaverIsSecure as string | null,
    ScreenSaveTimeOut: value.ScreenSaveTimeOut as string | null,
  };
}

/** Checks the script's JSON has exactly the expected shape; undefined otherwise. */
export function readProbeOutput(json: unknown): WindowsProbeOutput | undefined {
  if (!isRecord(json) || !validate(ScriptOutputSchema, json).ok) {
    return undefined;
  }
  const { consoleUser, sid, inactivityTimeoutSecs, error } = json;
  const user = readValues(json.user);
  const userPolicy = readValues(json.userPolicy);
  const timeoutOk =
    inactivityTimeoutSecs === null ||
    (typeof inactivityTimeoutSecs === 'number' && Number.isInteger(inactivityTimeoutSecs));
  if (
    !stringOrNull(consoleUser) ||
    !stringOrNull(sid) ||
    !stringOrNull(error) ||
    !timeoutOk ||
    user === undefined ||
    userPolicy === undefined
  ) {
    return undefined;
  }
  return { consoleUser, sid, inactivityTimeoutSecs, user, userPolicy, error };
}

/**
 * Works out when the console session locks. Windows locks at the machine inactivity limit or
 * at a password-protected screen saver's timeout, whichever comes first; the user policy key
 * beats the user's own value (MS "ScreenSaveActive" registry reference: "If this entry appears
 * in the registry, a policy is in effect, and the system ignores the value … in HKCU\Control
 * Panel\Desktop").
 */
export function parse(raw: string): Parsed<ScreenLockFacts> {
  const out = readProbeOutput(parseJsonOutput(raw));
  if (out === undefined) {
    const seen = raw.trim().slice(0, 200);
    return {
      ok: false,
      code: 'unrecognised-output',
      detail: `unexpected probe output: ${seen || '(nothing)'}`,
    };
  }
  if (out.consoleUser === null && out.error === null) {
    return { ok: true, facts: noSession('Win32_ComputerSystem names no console user') };
  }
  const pick = (name: (typeof VALUE_NAMES)[number]): { value: string | null; policy: boolean } => {
    const fromPolicy = out.userPolicy?.[name] ?? null;
    return fromPolicy !== null
      ? { value: fromPolicy, policy: true }
      : { value: out.user?.[name] ?? null, policy: false };
  };
  const active = pick('ScreenSaveActive');
  const secure = pick('ScreenSaverIsSecure');
  const timeout = pick('ScreenSaveTimeOut');
  if (timeout.value !== null && !/^\d+$/.test(timeout.value.trim())) {
    return {
      ok: false,
      code: 'unrecognised-output',
      detail: `ScreenSaveTimeOut is "${timeout.value}"`,
    };
  }
  const timeoutSeconds = timeout.value === null ? null : Number(timeout.value.trim());
  const candidates: { seconds: number; source: LockSource }[] = [];
  const machine = out.inactivityTimeoutSecs;
  if (machine !== null && machine > 0) {
    candidates.push({ seconds: machine, source: 'machine-policy' });
  }
  if (
    active.value === '1' &&
    secure.value === '1' &&
    timeoutSeconds !== null &&
    timeoutSeconds > 0
  ) {
    const fromPolicy = active.policy || secure.policy || timeout.policy;
    candidates.push({
      seconds: timeoutSeconds,
      source: fromPolicy ? 'user-policy' : 'user-setting',
    });
  }
  const settings = {
    inactivityTimeoutSecs: machine,
    screenSaveActive: active.value,
    screenSaverIsSecure: secure.value,
    screenSaveTimeOutSecs: timeoutSeconds,
    screenSaverFromPolicy: active.policy || secure.policy || timeout.policy,
  };
  const first = candidates.sort((a, b) => a.seconds - b.seconds)[0];
  // HKCU\Control Panel\Desktop is the user's to write (HKCU\Software\Policies and HKLM are
  // not): a lock that rests on it holds only until the user changes it.
  const userCanChange = first?.source === 'user-setting';
  const enforced = candidates.find((candidate) => candidate.source !== 'user-setting');
  if (out.error !== null && first === undefined) {
    // A section failed and nothing readable says the screen locks: say why, never guess.
    return { ok: false, code: 'probe-failed', detail: out.error };
  }
  return {
    ok: true,
    facts: {
      session: 'present',
      user: out.consoleUser,
      lockEnabled: first !== undefined,
      // With a failed section this is still an upper bound: the lock is the earliest of all.
      lockAfterSeconds: first?.seconds ?? null,
      source: first?.source ?? 'none',
      ...(userCanChange
        ? { userCanChange, enforcedLockAfterSeconds: enforced?.seconds ?? null }
        : {}),
      settings,
      problem: out.error,
    },
  };
}

/** Windows half of the screen-lock check. */
export const windows = platformCheck({ probe, parse });
