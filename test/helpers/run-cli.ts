// Runs the real `hallpass` command as a child process, as a user or script would.
import { execFile } from 'node:child_process';

const cli = new URL('../../agent/cli.ts', import.meta.url).pathname;

/** What the command printed and its exit status. */
export interface CliRun {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs `node agent/cli.ts …args` under the same Node as the tests. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      {
        env: { ...process.env, NO_COLOR: '1', ...env },
        maxBuffer: 8 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error && typeof error.code === 'number' ? error.code : error ? -1 : 0;
        resolve({ stdout, stderr, code });
      },
    );
  });
}
