// Sign-out and lock on Windows as SYSTEM (windows-session.ps1): the console session from
// WTSGetActiveConsoleSessionId, checked to be the user's, then WTSLogoffSession or
// WTSDisconnectSession (learn.microsoft.com, wtsapi32.h). `logoff`/`tsdiscon` would need the
// session id from localised `quser` output (PLATFORMS.md §10), so the API is called instead.
import { Type } from 'typebox';
import { describeProblems, validate } from '../../../../shared/index.ts';
import type { Host } from '../../host.ts';
import { parseJsonOutput, powershellArgs } from '../../powershell.ts';
import { readAsset } from '../../assets.ts';
import { errorText, firstLine, type SessionActions } from './session-actions.ts';

const TIMEOUT_MS = 60_000;
const SCRIPT = new URL('./windows-session.ps1', import.meta.url);

const OutputSchema = Type.Object(
  {
    session: Type.Union([Type.Integer(), Type.Null()]),
    user: Type.Union([Type.String(), Type.Null()]),
    done: Type.Boolean(),
    error: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);

/** The script's answer: null when done, else why not. Unknown output is a failure, never done. */
export function parseSessionActionOutput(raw: string): string | null {
  const json = parseJsonOutput(raw);
  const checked = validate(OutputSchema, json);
  if (!checked.ok) {
    return `windows-session.ps1 printed an unexpected answer: ${
      json === undefined ? JSON.stringify(raw.slice(0, 200)) : describeProblems(checked.problems)
    }`;
  }
  const { done, error } = checked.value;
  if (error !== null) {
    return error.slice(0, 500);
  }
  return done ? null : 'the session action did not report success';
}

/** Session actions through the Terminal Services API. */
export function windowsSessionActions(host: Host): SessionActions {
  const act = async (user: string, action: 'sign-out' | 'lock'): Promise<string | null> => {
    try {
      const output = await host.run('powershell.exe', powershellArgs(await readAsset(SCRIPT)), {
        timeoutMs: TIMEOUT_MS,
        env: { HALLPASS_AUP_ACTION: action, HALLPASS_AUP_USER: user },
      });
      if (output.exitCode !== 0 && output.stdout.trim() === '') {
        return `PowerShell exited ${output.exitCode}: ${firstLine(output.stderr)}`;
      }
      return parseSessionActionOutput(output.stdout);
    } catch (error) {
      return `PowerShell: ${errorText(error)}`;
    }
  };
  return { signOut: (user) => act(user, 'sign-out'), lock: (user) => act(user, 'lock') };
}
