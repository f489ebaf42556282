// Runs one lock command and waits for it to exit, not for its output to close: screen lockers
// such as i3lock fork into the background once the lock holds (i3lock(1): "i3lock forks ... after
// the screen is locked" unless -n), and the background child keeps inherited pipes open, so
// execFile's runner would wait for the locker to be unlocked.
import { spawn } from 'node:child_process';
import { probeEnvironment } from '../../core/probe-environment.ts';
import type { LockAttempt } from './desktop.ts';

/** Runs a lock command in the fixed probe environment plus `env` (DISPLAY, the session bus). */
export type LockCommandRunner = (
  command: string,
  args: readonly string[],
  env: Record<string, string>,
  timeoutMs: number,
) => Promise<LockAttempt>;

/** The real runner: spawn with no stdio, a timeout that kills, the exit code as the verdict. */
export const spawnLockCommand: LockCommandRunner = (command, args, env, timeoutMs) =>
  new Promise((resolve) => {
    const fixed = probeEnvironment(process.platform, process.env);
    const label = [command, ...args].join(' ');
    let settled = false;
    const finish = (ok: boolean, detail: string) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        resolve({ command: label, ok, detail });
      }
    };
    const child = spawn(command, [...args], {
      stdio: 'ignore',
      env: { ...env, ...fixed.env },
      cwd: fixed.cwd,
      windowsHide: true,
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(false, `did not finish within ${timeoutMs} ms`);
    }, timeoutMs);
    child.once('error', (error: NodeJS.ErrnoException) => {
      finish(false, error.code === 'ENOENT' ? 'not installed' : error.message);
    });
    child.once('exit', (code, signal) => {
      finish(code === 0, code === null ? `killed by ${String(signal)}` : `exit ${code}`);
    });
  });
