// A Host whose logind answers that a user sits at seat0 (recorded loginctl output, parsed by
// the real console-user source), and which notes every loginctl call, so a test sees a decline's
// sign-out as the command it is. Every other command runs for real.
import { readFile } from 'node:fs/promises';
import { realHost, type Host } from '../../agent/core/host.ts';
import type { Runner } from '../../agent/core/runner.ts';

const fixture = (path: string) =>
  readFile(new URL(`../fixtures/linux/console-user/${path}`, import.meta.url), 'utf8');

/** The seat0 session the fixtures name, and its user. */
export const CONSOLE_SESSION = {
  id: (await fixture('constructed-show-seat-active.txt')).trim(),
  user: 'pupil.0042',
};

/** A host with `CONSOLE_SESSION` at the console; `loginctl` calls are pushed to `commands`. */
export async function consoleSessionHost(
  commands: string[],
  groups = ['domain users'],
): Promise<Host> {
  const seat = await fixture('constructed-show-seat-active.txt');
  // Name=pupil.0042, Class=user, State=active.
  const session = await fixture('constructed-show-session-user.txt');
  const run: Runner = (command, args, options) => {
    if (command === 'loginctl') {
      commands.push(`loginctl ${args.join(' ')}`);
      const stdout = args[0] === 'show-seat' ? seat : args[0] === 'show-session' ? session : '';
      return Promise.resolve({ stdout, stderr: '', exitCode: 0 });
    }
    if (command === 'id') {
      return Promise.resolve({
        stdout: [CONSOLE_SESSION.user, ...groups].map((g) => `${g}\0`).join(''),
        stderr: '',
        exitCode: 0,
      });
    }
    return realHost.run(command, args, options);
  };
  return { ...realHost, run };
}
