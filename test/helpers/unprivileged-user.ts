// A real unprivileged local account for the local-attack suites: the pupil at the keyboard.
// The suites run the service as root (as it runs on a device) and attack it as this user, so
// they need root to create the account. Under CI (`CI=true`, where `.ci/run` runs as root) a
// missing root is a failure, never a silent skip.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** Whether this process can create accounts and run the service as root. */
export const runningAsRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * Call at the top of a local-attack suite: throws under CI when not root, else returns whether
 * the suite can run (for `describe.skipIf(!canAttackAsPupil())`), printing why when it cannot.
 */
export function canAttackAsPupil(suite: string): boolean {
  if (runningAsRoot) {
    return true;
  }
  if (process.env.CI === 'true') {
    throw new Error(`${suite}: the local-attack suite must run as root under CI`);
  }
  process.stderr.write(`\n*** ${suite} NOT RUN: the local-attack suite needs root ***\n\n`);
  return false;
}

/** What a command run as the pupil printed, and how it ended. */
export interface PupilRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** An ordinary local account created for one suite. */
export interface Pupil {
  name: string;
  uid: number;
  gid: number;
  home: string;
  /** Runs `command args` as the pupil, with a plain environment and the pupil's home. */
  run(
    command: string,
    args: string[],
    options?: { env?: Record<string, string>; timeoutMs?: number; input?: string },
  ): Promise<PupilRun>;
  /** Removes the account, its home and every process it still runs. */
  remove(): Promise<void>;
}

const repoRoot = new URL('../../', import.meta.url).pathname;

/**
 * The pupil runs this checkout's code with the test's Node, as a pupil runs the shipped binary
 * from /usr/bin. A clean clone may sit in a 0700 temp folder (`mktemp -d`), so every folder above
 * the checkout and the Node binary gets the search bit for others (never read or write). It is
 * not taken back: suites run in parallel and one must not close the path under another.
 */
async function openPathToCode(): Promise<void> {
  for (const start of [repoRoot, dirname(process.execPath)]) {
    for (let dir = start; ; dir = dirname(dir)) {
      const mode = (await stat(dir)).mode;
      if ((mode & 0o001) === 0) {
        await chmod(dir, (mode & 0o7777) | 0o001);
      }
      if (dirname(dir) === dir) {
        break;
      }
    }
  }
}

/** Creates a fresh ordinary account (no sudo, no extra groups) with its own home folder. */
export async function createPupil(): Promise<Pupil> {
  await openPathToCode();
  const name = `hp-pupil-${randomBytes(3).toString('hex')}`;
  const home = `/tmp/${name}`;
  await exec('useradd', ['--create-home', '--home-dir', home, '--shell', '/bin/sh', name]);
  const uid = Number((await exec('id', ['-u', name])).stdout.trim());
  const gid = Number((await exec('id', ['-g', name])).stdout.trim());
  return {
    name,
    uid,
    gid,
    home,
    run(command, args, options = {}) {
      return new Promise((resolve) => {
        const child = spawn(command, args, {
          uid,
          gid,
          cwd: home,
          env: {
            PATH: '/usr/local/bin:/usr/bin:/bin',
            HOME: home,
            USER: name,
            LOGNAME: name,
            ...options.env,
          },
          timeout: options.timeoutMs ?? 600_000,
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        child.on('error', (error) => {
          resolve({ code: -1, signal: null, stdout, stderr: stderr + String(error) });
        });
        child.on('close', (code, signal) => {
          resolve({ code, signal, stdout, stderr });
        });
        // A command that exits without reading its input closes the pipe first: EPIPE here is
        // that, not a failure of the run (its exit code says how it went).
        child.stdin.on('error', () => undefined);
        child.stdin.end(options.input ?? '');
      });
    },
    async remove() {
      await exec('pkill', ['-KILL', '-u', name]).catch(() => undefined);
      await exec('userdel', ['--remove', name]).catch(() => undefined);
    },
  };
}
