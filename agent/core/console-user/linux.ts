// The console user on Linux, as root sees it (PLATFORMS.md §7): logind's active session on
// seat0 (the physical seat), its user, and that user's groups. Needs systemd-logind; without it
// (a container, a non-systemd distribution) nobody can be said to sit at the console, and the
// answer is null with a reason, never a guess.
import type { Runner } from '../runner.ts';
import type { ConsoleUser, ConsoleUserSource } from './console-user.ts';

const TIMEOUT_MS = 10_000;

/** What logind said: a user, nobody at the console, or that it could not tell (and why). */
export type LinuxConsoleReading =
  | { kind: 'user'; user: ConsoleUser; problem: string | null }
  | { kind: 'nobody' }
  | { kind: 'unknown'; reason: string };

/** Session ids logind makes (`2`, `c1`, `auto`-free); anything else is refused, not passed on. */
const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;
/**
 * Login names as Debian, sssd and winbind make them (`pupil.0042`, `j.smith@school.example`,
 * `alice$`); never a leading `-`, so a name can never be read as an option of `id`.
 */
const USER_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,254}\$?$/;

/**
 * `loginctl show-seat seat0 -p ActiveSession --value`: the session id, or null when the seat
 * has no active session (logind prints an empty line, or nothing: empty properties are
 * suppressed). Throws on anything that is not a session id.
 */
export function parseActiveSession(stdout: string): string | null {
  const value = stdout.trim();
  if (value === '') {
    return null;
  }
  if (!SESSION_ID.test(value)) {
    throw new Error(
      `loginctl named an active session that is not a session id: ${JSON.stringify(value.slice(0, 80))}`,
    );
  }
  return value;
}

/** `Key=Value` lines of `loginctl show-session` (in logind's order, whatever order `-p` asked). */
export function parseProperties(stdout: string): Map<string, string> {
  const properties = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const equals = line.indexOf('=');
    if (equals > 0) {
      properties.set(line.slice(0, equals), line.slice(equals + 1).trim());
    }
  }
  return properties;
}

/**
 * The user of a seat0 session from its properties, or null when the session is not a user's
 * (the display manager's greeter, a lock screen, a session closing). Throws on output that
 * does not say (no Name or Class), or a name that is not a login name.
 */
export function sessionUser(properties: Map<string, string>): string | null {
  const name = properties.get('Name');
  const sessionClass = properties.get('Class');
  const state = properties.get('State');
  if (name === undefined || sessionClass === undefined) {
    throw new Error('loginctl show-session did not say the session user and class (Name, Class)');
  }
  // systemd 256 added `user-early` (a user session before the user manager is up); greeter,
  // lock-screen, background and manager sessions have nobody typing at the console.
  if (sessionClass !== 'user' && sessionClass !== 'user-early') {
    return null;
  }
  if (state === 'closing') {
    return null;
  }
  if (!USER_NAME.test(name)) {
    throw new Error(
      `logind's session user is not a login name: ${JSON.stringify(name.slice(0, 80))}`,
    );
  }
  return name;
}

/** `id -Gnz -- <user>`: group names, NUL-separated (a directory group may hold spaces). */
export function parseGroups(stdout: string): string[] {
  return stdout
    .split('\0')
    .map((group) => group.trim())
    .filter((group) => group !== '');
}

/** The groups of a user (`id` sees local, sssd and winbind groups alike), or why not. */
export async function linuxGroupsOf(
  run: Runner,
  user: string,
): Promise<{ groups: string[]; problem: string | null }> {
  if (!USER_NAME.test(user)) {
    return { groups: [], problem: `not a login name: ${JSON.stringify(user.slice(0, 80))}` };
  }
  try {
    const answer = await run('id', ['-Gnz', '--', user], { timeoutMs: TIMEOUT_MS });
    if (answer.exitCode !== 0) {
      return { groups: [], problem: `id failed for ${user}: ${firstLine(answer.stderr)}` };
    }
    return { groups: parseGroups(answer.stdout), problem: null };
  } catch (error) {
    return { groups: [], problem: `id failed for ${user}: ${errorText(error)}` };
  }
}

/** Asks logind who sits at seat0. Never throws: failures are `unknown` with a reason. */
export async function readLinuxConsoleUser(run: Runner): Promise<LinuxConsoleReading> {
  try {
    const seat = await run('loginctl', ['show-seat', 'seat0', '-p', 'ActiveSession', '--value'], {
      timeoutMs: TIMEOUT_MS,
    });
    if (seat.exitCode !== 0) {
      return {
        kind: 'unknown',
        reason: `loginctl show-seat failed (exit ${String(seat.exitCode)}): ${firstLine(seat.stderr)}`,
      };
    }
    const session = parseActiveSession(seat.stdout);
    if (session === null) {
      return { kind: 'nobody' };
    }
    const shown = await run(
      'loginctl',
      ['show-session', session, '-p', 'Name', '-p', 'Class', '-p', 'State'],
      { timeoutMs: TIMEOUT_MS },
    );
    if (shown.exitCode !== 0) {
      // The session ended between the two calls, most likely: nobody, until the next look.
      return {
        kind: 'unknown',
        reason: `loginctl show-session ${session} failed (exit ${String(shown.exitCode)}): ${firstLine(shown.stderr)}`,
      };
    }
    const name = sessionUser(parseProperties(shown.stdout));
    if (name === null) {
      return { kind: 'nobody' };
    }
    const { groups, problem } = await linuxGroupsOf(run, name);
    // Without groups the user is still the user; a group exemption just does not apply, and
    // the groups are marked incomplete so no AUP role is decided from them.
    return { kind: 'user', user: { name, groups, groupsComplete: problem === null }, problem };
  } catch (error) {
    return { kind: 'unknown', reason: errorText(error) };
  }
}

/** The Linux console-user source: null when nobody (or nobody known) sits at seat0. */
export function linuxConsoleUserSource(
  run: Runner,
  log?: { warn(details: Record<string, unknown>, message: string): void },
): ConsoleUserSource {
  // Polled every minute: log a reason when it changes, not every time it repeats.
  let lastProblem: string | null = null;
  const note = (problem: string | null) => {
    if (problem !== null && problem !== lastProblem) {
      log?.warn({ problem }, 'console user: cannot tell who is at the console; treated as nobody');
    }
    lastProblem = problem;
  };
  return {
    async current() {
      const reading = await readLinuxConsoleUser(run);
      switch (reading.kind) {
        case 'user':
          note(reading.problem);
          return reading.user;
        case 'nobody':
          note(null);
          return null;
        case 'unknown':
          note(reading.reason);
          return null;
      }
    },
  };
}

function firstLine(text: string): string {
  return (text.trim().split('\n')[0] ?? '').slice(0, 300);
}

function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 500);
}
