import type { Host } from '../../host.ts';
import type { CommandOutput } from '../../runner.ts';
import { platformCheck, type Parsed } from '../define-check.ts';
import { noSession, type ScreenLockFacts } from './facts.ts';

const TIMEOUT_MS = 10_000;
const MANAGED_DOMAIN = '/Library/Managed Preferences/com.apple.screensaver';

/** What the macOS probe gathers; the per-user commands are null when nobody is at the console. */
export interface DarwinRaw {
  /** `stat -f %Su /dev/console`: the console owner, `root` at the login window. */
  consoleUser: string;
  /** `sysadminctl -screenLock status` run as that user (answers on stderr). */
  screenLock: CommandOutput | null;
  /** `defaults -currentHost read com.apple.screensaver idleTime` run as that user. */
  idleTime: CommandOutput | null;
  /** `defaults read "/Library/Managed Preferences/com.apple.screensaver" idleTime` (MDM). */
  managedIdleTime: CommandOutput | null;
  /** Why the console user could not be found (`stat` or `id` failed); absent when it was. */
  failure?: string;
}

/** Runs a command in the console user's GUI session, as PLATFORMS.md §7 describes. */
function asUser(host: Host, user: string, uid: string, command: string[]): Promise<CommandOutput> {
  return host.run('launchctl', ['asuser', uid, 'sudo', '-u', user, ...command], {
    timeoutMs: TIMEOUT_MS,
  });
}

/** Reads the console user's screen-lock delay and screen saver idle time. */
export async function probe(host: Host): Promise<DarwinRaw> {
  const stat = await host.run('stat', ['-f', '%Su', '/dev/console'], { timeoutMs: TIMEOUT_MS });
  const user = stat.stdout.trim();
  const none = { screenLock: null, idleTime: null, managedIdleTime: null };
  const said = (output: CommandOutput) =>
    `exit ${output.exitCode}: ${(output.stderr.trim() || output.stdout.trim()).slice(0, 200) || '(no message)'}`;
  // A failed stat or id observed nobody's absence: it is a failure, not "no one is signed in".
  if (stat.exitCode !== 0 || user === '') {
    return { consoleUser: user, ...none, failure: `stat /dev/console failed (${said(stat)})` };
  }
  if (user === 'root' || user === 'loginwindow') {
    return { consoleUser: user, ...none };
  }
  const id = await host.run('id', ['-u', user], { timeoutMs: TIMEOUT_MS });
  const uid = id.stdout.trim();
  if (id.exitCode !== 0 || !/^\d+$/.test(uid)) {
    return { consoleUser: user, ...none, failure: `id -u ${user} failed (${said(id)})` };
  }
  return {
    consoleUser: user,
    screenLock: await asUser(host, user, uid, ['/usr/sbin/sysadminctl', '-screenLock', 'status']),
    idleTime: await asUser(host, user, uid, [
      '/usr/bin/defaults',
      '-currentHost',
      'read',
      'com.apple.screensaver',
      'idleTime',
    ]),
    managedIdleTime: await host.run('/usr/bin/defaults', ['read', MANAGED_DOMAIN, 'idleTime'], {
      timeoutMs: TIMEOUT_MS,
    }),
  };
}

/** Seconds of lock delay, 'off', or null when the text is not one of the known answers. */
export function parseScreenLockStatus(output: CommandOutput): number | 'off' | null {
  // sysadminctl logs through NSLog, so the answer is on stderr behind a
  // "2026-09-21 20:50:02.423 sysadminctl[22746:23830390] " prefix: match by substring.
  const text = `${output.stderr}\n${output.stdout}`;
  const answers: (number | 'off')[] = [];
  for (const line of text.split('\n')) {
    if (/ screenLock is off\s*$/.test(` ${line}`)) {
      answers.push('off');
    } else if (/ screenLock delay is immediate\s*$/.test(` ${line}`)) {
      answers.push(0);
    } else {
      const seconds = / screenLock delay is (-?\d+)(?:\.\d+)? seconds?\s*$/.exec(` ${line}`);
      if (seconds?.[1] !== undefined) {
        // A negative delay is how some releases print "off" (seen as "-1.000000 seconds").
        const value = Number(seconds[1]);
        answers.push(value < 0 ? 'off' : value);
      }
    }
  }
  return answers.length === 1 ? (answers[0] ?? null) : null;
}

/** Seconds from a `defaults read` of an integer; 'unset' when the key does not exist. */
export function parseIdleTime(output: CommandOutput): number | 'unset' | null {
  const value = output.stdout.trim();
  if (output.exitCode === 0 && /^\d+$/.test(value)) {
    return Number(value);
  }
  if (
    output.exitCode !== 0 &&
    /The domain\/default pair of .* does not exist/.test(output.stderr)
  ) {
    return 'unset';
  }
  return null;
}

/** Combines lock delay and idle time: the screen locks at idleTime + delay (PLATFORMS.md §5). */
export function parse(raw: DarwinRaw): Parsed<ScreenLockFacts> {
  if (raw.failure !== undefined) {
    return {
      ok: false,
      code: 'probe-failed',
      detail: `could not find the console user: ${raw.failure}`,
    };
  }
  if (raw.screenLock === null || raw.idleTime === null) {
    return {
      ok: true,
      facts: noSession(`the console is at the login window (owned by ${raw.consoleUser})`),
    };
  }
  const delay = parseScreenLockStatus(raw.screenLock);
  if (delay === null) {
    const seen = `${raw.screenLock.stderr}${raw.screenLock.stdout}`.trim().slice(0, 200);
    return {
      ok: false,
      code: 'unrecognised-output',
      detail: `sysadminctl said: ${seen || '(nothing)'}`,
    };
  }
  const userIdle = parseIdleTime(raw.idleTime);
  const managedIdle = raw.managedIdleTime === null ? 'unset' : parseIdleTime(raw.managedIdleTime);
  if (userIdle === null || managedIdle === null) {
    return {
      ok: false,
      code: 'unrecognised-output',
      detail: 'defaults printed no whole number of seconds',
    };
  }
  const settings = {
    screenLockDelaySeconds: delay === 'off' ? null : delay,
    screenLockOff: delay === 'off',
    idleTimeSeconds: userIdle === 'unset' ? null : userIdle,
    managedIdleTimeSeconds: managedIdle === 'unset' ? null : managedIdle,
  };
  const base = { session: 'present', user: raw.consoleUser, settings } as const;
  if (delay === 'off') {
    return {
      ok: true,
      facts: {
        ...base,
        lockEnabled: false,
        lockAfterSeconds: null,
        source: 'user-setting',
        problem: null,
      },
    };
  }
  // A configuration profile's value wins over the user's own (CIS macOS benchmark, idleTime).
  const idle = managedIdle === 'unset' ? userIdle : managedIdle;
  const source = managedIdle === 'unset' ? 'user-setting' : 'mdm-profile';
  if (idle === 'unset') {
    const problem =
      'the screen saver start time is not set, so an undocumented macOS default applies';
    return {
      ok: true,
      facts: { ...base, lockEnabled: null, lockAfterSeconds: null, source: 'none', problem },
    };
  }
  if (idle === 0) {
    // idleTime 0 is "Never": the screen saver never starts, so nothing triggers the lock.
    return {
      ok: true,
      facts: { ...base, lockEnabled: false, lockAfterSeconds: null, source, problem: null },
    };
  }
  // The user's own `defaults` (no profile) are theirs to change; so is the password delay
  // sysadminctl reports, unless a profile sets it, which this probe does not read.
  const userSetting = source === 'user-setting';
  return {
    ok: true,
    facts: {
      ...base,
      lockEnabled: true,
      lockAfterSeconds: idle + delay,
      source,
      ...(userSetting ? { userCanChange: true, enforcedLockAfterSeconds: null } : {}),
      problem: null,
    },
  };
}

/** macOS half of the screen-lock check. */
export const darwin = platformCheck({ probe, parse });
