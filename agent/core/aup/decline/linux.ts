// Sign-out and lock on Linux through logind (PLATFORMS.md §7): the active session of seat0,
// checked to be the user's, then `loginctl terminate-session` or `loginctl lock-session`
// (loginctl(1); lock-session asks the session's screen locker, which every desktop that speaks
// logind's Lock signal — GNOME, KDE, Cinnamon, xfce with light-locker — honours).
import { parseActiveSession, parseProperties, sessionUser } from '../../console-user/linux.ts';
import type { Runner } from '../../runner.ts';
import { errorText, firstLine, type SessionActions } from './session-actions.ts';

const TIMEOUT_MS = 15_000;

/** The seat0 session of `user`, or why there is none. */
async function consoleSessionOf(
  run: Runner,
  user: string,
): Promise<{ session: string } | { problem: string }> {
  const seat = await run('loginctl', ['show-seat', 'seat0', '-p', 'ActiveSession', '--value'], {
    timeoutMs: TIMEOUT_MS,
  });
  if (seat.exitCode !== 0) {
    return {
      problem: `loginctl show-seat failed (exit ${seat.exitCode}): ${firstLine(seat.stderr)}`,
    };
  }
  const session = parseActiveSession(seat.stdout);
  if (session === null) {
    return { problem: 'no active session on seat0: the user has already left' };
  }
  const shown = await run(
    'loginctl',
    ['show-session', session, '-p', 'Name', '-p', 'Class', '-p', 'State'],
    { timeoutMs: TIMEOUT_MS },
  );
  if (shown.exitCode !== 0) {
    return {
      problem: `loginctl show-session ${session} failed (exit ${shown.exitCode}): ${firstLine(shown.stderr)}`,
    };
  }
  const name = sessionUser(parseProperties(shown.stdout));
  if (name !== user) {
    return {
      problem: `the console session is no longer ${user}'s (${name === null ? 'nobody' : name} now); nothing done`,
    };
  }
  return { session };
}

async function act(run: Runner, user: string, verb: 'terminate-session' | 'lock-session') {
  try {
    const found = await consoleSessionOf(run, user);
    if ('problem' in found) {
      return found.problem;
    }
    const done = await run('loginctl', [verb, found.session], { timeoutMs: TIMEOUT_MS });
    return done.exitCode === 0
      ? null
      : `loginctl ${verb} ${found.session} failed (exit ${done.exitCode}): ${firstLine(done.stderr)}`;
  } catch (error) {
    return `loginctl ${verb}: ${errorText(error)}`;
  }
}

/** Session actions through logind. */
export function linuxSessionActions(run: Runner): SessionActions {
  return {
    signOut: (user) => act(run, user, 'terminate-session'),
    lock: (user) => act(run, user, 'lock-session'),
  };
}
