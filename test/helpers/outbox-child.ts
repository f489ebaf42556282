// Runs an outbox child script under the tests' own Node and, optionally, SIGKILLs it a given
// time after it printed `ready`. Only whole lines count: a line cut by the kill was not said.
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Hundreds of children each load TypeBox and the shared schemas; V8's compile cache cuts
// their start-up by more than half, which is most of the SIGKILL suite's run time.
const compileCache = join(tmpdir(), 'hallpass-test-compile-cache');

/** What a child printed before it exited or was killed. */
export interface ChildRun {
  lines: string[];
  killed: boolean;
  code: number | null;
  stderr: string;
}

/** Starts `script args…`; kills it `killAfterReadyMs` after its `ready` line (null: never). */
export function runChild(
  script: string,
  args: string[],
  killAfterReadyMs: number | null,
): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_COMPILE_CACHE: compileCache },
    });
    let stdout = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      if (timer === undefined && killAfterReadyMs !== null && stdout.startsWith('ready\n')) {
        timer = setTimeout(() => child.kill('SIGKILL'), killAfterReadyMs);
      }
    });
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const whole = stdout.slice(0, stdout.lastIndexOf('\n') + 1);
      resolve({
        lines: whole.split('\n').filter((line) => line !== ''),
        killed: signal === 'SIGKILL',
        code,
        stderr,
      });
    });
  });
}
