// The Windows console user (PLATFORMS.md §7), asked as SYSTEM through windows.ps1:
// Win32_ComputerSystem.UserName (the physical console's DOMAIN\user) and the groups Windows
// lists for that user. quser is localised and not used. A user whose directory groups could
// not be read is still returned with the groups that were, marked `groupsComplete: false`: an
// exemption by a directory group then does not apply (stricter, never looser), and the AUP role
// is not decided from them (agent/service/aup-sessions.ts).
import { Type } from 'typebox';
import { describeProblems, validate } from '../../../shared/index.ts';
import type { Host } from '../host.ts';
import { parseJsonOutput, runPowerShellScript } from '../powershell.ts';
import { ProbeError } from '../runner.ts';
import { deviceText } from '../usb/sanitize.ts';
import type { ConsoleUser, ConsoleUserSource } from './console-user.ts';

const TIMEOUT_MS = 60_000;
const SCRIPT = new URL('./windows.ps1', import.meta.url);

/** What windows.ps1 prints, checked before anything is read. */
export const ScriptOutputSchema = Type.Object(
  {
    user: Type.Union([Type.String(), Type.Null()]),
    groups: Type.Array(Type.String()),
    groupsComplete: Type.Boolean(),
    error: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);

/** DOMAIN\user or user: printable, no control characters, as Windows writes it. */
const ACCOUNT = /^(?:[^\\\p{Cc}]{1,255}\\)?[^\\\p{Cc}]{1,256}$/u;

/** Parses windows.ps1's JSON: the console user, or null at the sign-in screen. */
export function parseConsoleUser(raw: string): (ConsoleUser & { groupsComplete: boolean }) | null {
  const json = parseJsonOutput(raw);
  const checked = validate(ScriptOutputSchema, json);
  if (!checked.ok) {
    throw new ProbeError(
      'unrecognised-output',
      `console-user windows.ps1 printed an unexpected shape: ${
        json === undefined ? deviceText(raw, 200) : describeProblems(checked.problems)
      }`,
    );
  }
  const { user, groups, groupsComplete, error } = checked.value;
  if (error !== null) {
    throw new ProbeError('probe-failed', `Win32_ComputerSystem: ${deviceText(error, 500)}`);
  }
  if (user === null) {
    return null;
  }
  if (!ACCOUNT.test(user)) {
    throw new ProbeError('unrecognised-output', `not an account name: ${deviceText(user, 80)}`);
  }
  return {
    name: user,
    groups: [...new Set(groups.map((g) => deviceText(g, 256)).filter((g) => g !== ''))],
    groupsComplete,
  };
}

/** The console user on Windows. */
export function windowsConsoleUser(host: Host): ConsoleUserSource {
  return {
    async current() {
      const parsed = parseConsoleUser(await runPowerShellScript(host, SCRIPT, TIMEOUT_MS));
      return parsed;
    },
  };
}
