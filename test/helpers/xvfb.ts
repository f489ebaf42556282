// A real X server for desktop-session tests: Xvfb on a display it picks itself (-displayfd), so
// parallel suites never collide, stopped by its own pid. `-noreset`: an X server with no clients
// left resets itself (Xserver(1)), which zeroes the idle counter; a desktop session always has
// clients, a test display between two `xprintidle` runs has none (seen here: every reading
// came back under a second until -noreset).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/** A running Xvfb. */
export interface Xvfb {
  display: string;
  width: number;
  height: number;
  stop(): Promise<void>;
}

/** Starts Xvfb and resolves once it accepts clients (it writes its display number then). */
export async function startXvfb(width = 800, height = 600): Promise<Xvfb> {
  const child: ChildProcess = spawn(
    'Xvfb',
    ['-displayfd', '3', '-noreset', '-screen', '0', `${width}x${height}x24`, '-nolisten', 'tcp'],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const fd3 = child.stdio[3];
  if (fd3 === null || fd3 === undefined || !('on' in fd3)) {
    child.kill('SIGKILL');
    throw new Error('Xvfb: no display pipe');
  }
  const display = await new Promise<string>((resolve, reject) => {
    let text = '';
    fd3.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = /^(\d+)\n/.exec(text);
      if (match?.[1] !== undefined) {
        resolve(`:${match[1]}`);
      }
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      reject(new Error(`Xvfb exited (${String(code)}) before it was ready: ${stderr}`));
    });
  });
  return {
    display,
    width,
    height,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
