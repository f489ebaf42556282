// Sign-out and lock on macOS as root: the console user's uid from `id -u`, then
// `launchctl bootout gui/<uid>` (launchctl(1): tears down the user's GUI domain, which logs the
// user out) or, to lock, `launchctl asuser <uid> pmset displaysleepnow` (pmset(1)): the display
// sleeps and the session locks, as the screen-lock check requires a password at once. The
// CGSession -suspend tool older guides name was removed in macOS 11.
import type { Host } from '../../host.ts';
import { errorText, firstLine, type SessionActions } from './session-actions.ts';

const TIMEOUT_MS = 15_000;
const SHORT_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,243}$/;

/** `id -u <user>`: a uid, or null for anything else. */
export function parseUid(raw: string): number | null {
  const text = raw.trim();
  return /^[0-9]{1,10}$/.test(text) ? Number(text) : null;
}

/** Session actions through launchctl. */
export function darwinSessionActions(host: Host): SessionActions {
  const act = async (user: string, action: 'sign-out' | 'lock'): Promise<string | null> => {
    if (!SHORT_NAME.test(user)) {
      return `not a macOS short name: ${JSON.stringify(user.slice(0, 80))}`;
    }
    try {
      const id = await host.run('id', ['-u', '--', user], { timeoutMs: TIMEOUT_MS });
      const uid = id.exitCode === 0 ? parseUid(id.stdout) : null;
      if (uid === null || uid === 0) {
        return `id -u ${user} gave no user id: ${firstLine(id.stderr || id.stdout)}`;
      }
      const args =
        action === 'sign-out'
          ? ['bootout', `gui/${uid}`]
          : ['asuser', String(uid), '/usr/bin/pmset', 'displaysleepnow'];
      const done = await host.run('launchctl', args, { timeoutMs: TIMEOUT_MS });
      return done.exitCode === 0
        ? null
        : `launchctl ${args.join(' ')} failed (exit ${done.exitCode}): ${firstLine(done.stderr)}`;
    } catch (error) {
      return `launchctl: ${errorText(error)}`;
    }
  };
  return { signOut: (user) => act(user, 'sign-out'), lock: (user) => act(user, 'lock') };
}
