// A long-lived monitor process read line by line (`diskutil activity` on macOS, the CIM event
// watcher on Windows). Its output is not trusted to be small: a line longer than the limit is
// dropped and reported, and no more than one partial line is ever held, so a runaway or hostile
// monitor cannot grow the service's memory.
import { spawn, type ChildProcess } from 'node:child_process';
import { probeEnvironment } from '../probe-environment.ts';

/** Longest line kept by default: monitor lines are a few hundred bytes. */
export const MAX_MONITOR_LINE = 64 * 1024;

/** Splits text into lines, holding at most `maxLine` characters of an unfinished one. */
export class BoundedLines {
  private partial = '';
  private overflowing = false;

  private readonly maxLine: number;
  private readonly onLine: (line: string) => void;
  private readonly onOverflow: (length: number) => void;

  constructor(
    maxLine: number,
    onLine: (line: string) => void,
    onOverflow: (length: number) => void,
  ) {
    this.maxLine = maxLine;
    this.onLine = onLine;
    this.onOverflow = onOverflow;
  }

  push(chunk: string): void {
    let text = chunk;
    for (;;) {
      const end = text.indexOf('\n');
      if (end === -1) {
        this.hold(text);
        return;
      }
      this.hold(text.slice(0, end));
      if (this.overflowing) {
        this.overflowing = false;
      } else {
        this.onLine(this.partial.replace(/\r$/, ''));
      }
      this.partial = '';
      text = text.slice(end + 1);
    }
  }

  /** The last line when the stream ends without a newline. */
  end(): void {
    if (!this.overflowing && this.partial !== '') {
      this.onLine(this.partial.replace(/\r$/, ''));
    }
    this.partial = '';
    this.overflowing = false;
  }

  private hold(piece: string): void {
    if (this.overflowing) {
      return;
    }
    if (this.partial.length + piece.length > this.maxLine) {
      this.onOverflow(this.partial.length + piece.length);
      this.partial = '';
      this.overflowing = true;
      return;
    }
    this.partial += piece;
  }
}

/** Starts a process; injected so tests can start a real one that prints recorded output. */
export type Spawner = (command: string, args: readonly string[]) => ChildProcess;

/** The real spawner: the fixed probe environment (runner.ts), no shell, no window. */
export const spawnMonitor: Spawner = (command, args) => {
  const fixed = probeEnvironment(process.platform, process.env);
  return spawn(command, [...args], {
    env: fixed.env,
    cwd: fixed.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    windowsHide: true,
  });
};

/** What a running monitor reports. */
export interface LineMonitorHandlers {
  line(line: string): void;
  /** A line too long to keep, or stderr chatter: reported, never fatal. */
  noise(detail: string): void;
  /** The process could not start or ended on its own (never after stop()). */
  ended(error: Error): void;
}

/** Runs `command` until stopped, handing each stdout line over. */
export function startLineMonitor(
  spawner: Spawner,
  command: string,
  args: readonly string[],
  handlers: LineMonitorHandlers,
  maxLine = MAX_MONITOR_LINE,
): { stop(): Promise<void> } {
  let stopping = false;
  let finished = false;
  let child: ChildProcess | undefined;
  const exited = new Promise<void>((resolve) => {
    const finish = (error: Error) => {
      if (finished) {
        return;
      }
      finished = true;
      resolve();
      if (!stopping) {
        handlers.ended(error);
      }
    };
    try {
      child = spawner(command, args);
    } catch (error) {
      finish(new Error(`${command} could not start`, { cause: error }));
      return;
    }
    const lines = new BoundedLines(
      maxLine,
      (line) => {
        handlers.line(line);
      },
      (length) => {
        handlers.noise(`${command} printed a ${length}-character line; dropped`);
      },
    );
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      lines.push(chunk);
    });
    child.stdout?.on('end', () => {
      lines.end();
    });
    // stderr is read (so the pipe never fills and blocks the monitor) but only its size is kept.
    child.stderr?.on('data', (chunk: Buffer) => {
      handlers.noise(`${command} wrote ${chunk.length} bytes to stderr`);
    });
    child.on('error', (error) => {
      finish(new Error(`${command} failed: ${error.message}`, { cause: error }));
    });
    child.on('close', (code, signal) => {
      finish(new Error(`${command} ended (exit ${code ?? 'none'}, signal ${signal ?? 'none'})`));
    });
  });
  return {
    async stop() {
      stopping = true;
      if (!finished) {
        child?.kill();
      }
      await exited;
    },
  };
}
