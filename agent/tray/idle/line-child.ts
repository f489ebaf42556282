// A long-lived helper process spoken to one line at a time: the tray writes `<id> <verb>` on its
// standard input and the helper answers one JSON object a line carrying the same id. Windows'
// idle-lock readings come from such a helper (windows-idle.ps1): a PowerShell start costs
// hundreds of milliseconds of CPU, too much once a second, so one is started per session and
// kept. When it dies (or hangs, or floods) it is restarted on the next request, after a back-off
// that doubles with each failure in a row, so a helper that cannot start costs one attempt per
// back-off period, not one per second. Every failure comes back as a reading with a reason.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { brief, type Reading } from './desktop.ts';

/** How to start the helper and how patient to be with it. */
export interface LineChildOptions {
  command: string;
  args: readonly string[];
  env: Record<string, string>;
  cwd?: string;
  /** For the back-off: when the helper may be started again. */
  now: () => number;
  /** An answer slower than this counts as a hung helper, which is killed. */
  timeoutMs: number;
  /** Wait before the first restart; doubled per failure in a row up to `maxBackoffMs`. */
  firstBackoffMs?: number;
  maxBackoffMs?: number;
  /** A line longer than this (bytes) is a helper gone wrong: it is killed, not buffered. */
  maxLineBytes?: number;
}

interface Pending {
  resolve: (reading: Reading<Record<string, unknown>>) => void;
  timer: NodeJS.Timeout;
}

/** The client side of the line protocol. */
export class LineChild {
  readonly #options: LineChildOptions;
  #child: ChildProcessWithoutNullStreams | null = null;
  #buffer = '';
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #failuresInARow = 0;
  #retryAt = 0;
  #lastFailure = '';
  #stopped = false;

  constructor(options: LineChildOptions) {
    this.#options = options;
  }

  /** Whether a helper process is running now (for status and tests). */
  get running(): boolean {
    return this.#child !== null;
  }

  /** Asks the helper `verb`; the answer's JSON object, or why there is none. */
  request(verb: string): Promise<Reading<Record<string, unknown>>> {
    if (this.#stopped) {
      return Promise.resolve({ ok: false, reason: 'the helper was stopped' });
    }
    const child = this.#ensure();
    if (!child.ok) {
      return Promise.resolve(child);
    }
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve({
          ok: false,
          reason: `the helper gave no answer within ${this.#options.timeoutMs} ms`,
        });
        // A helper that stops answering would hold every later request too: start afresh.
        this.#fail(`it hung on "${verb}"`);
      }, this.#options.timeoutMs);
      this.#pending.set(id, { resolve, timer });
      child.value.stdin.write(`${id} ${verb}\n`);
    });
  }

  /** Ends the helper for good (the tray is quitting). */
  stop(): void {
    this.#stopped = true;
    this.#kill();
    this.#settleAll('the helper was stopped');
  }

  #ensure(): Reading<ChildProcessWithoutNullStreams> {
    if (this.#child !== null) {
      return { ok: true, value: this.#child };
    }
    const wait = this.#retryAt - this.#options.now();
    if (wait > 0) {
      return {
        ok: false,
        reason: `the helper failed (${this.#lastFailure}); next start in ${Math.ceil(wait / 1000)} s`,
      };
    }
    const { command, args, env, cwd } = this.#options;
    const child = spawn(command, [...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env,
      cwd,
      windowsHide: true,
    });
    this.#child = child;
    this.#buffer = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (this.#child === child) {
        this.#read(chunk);
      }
    });
    child.stderr.on('data', (chunk: string) => {
      // Only the end is kept: enough to say why it died, never a growing buffer.
      stderr = (stderr + chunk).slice(-2000);
    });
    // Writing to a helper that has just died raises EPIPE here; its exit says why.
    child.stdin.on('error', () => undefined);
    child.once('error', (error: NodeJS.ErrnoException) => {
      if (this.#child === child) {
        this.#fail(error.code === 'ENOENT' ? `${command} is not installed` : error.message);
      }
    });
    child.once('exit', (code, signal) => {
      if (this.#child === child) {
        const how = code === null ? `killed by ${String(signal)}` : `exit ${code}`;
        this.#fail(stderr.trim() === '' ? how : `${how}: ${brief(stderr)}`);
      }
    });
    return { ok: true, value: child };
  }

  #read(chunk: string): void {
    this.#buffer += chunk;
    let newline = this.#buffer.indexOf('\n');
    while (newline !== -1) {
      const line = this.#buffer.slice(0, newline);
      this.#buffer = this.#buffer.slice(newline + 1);
      this.#answer(line);
      newline = this.#buffer.indexOf('\n');
    }
    if (Buffer.byteLength(this.#buffer) > (this.#options.maxLineBytes ?? 64 * 1024)) {
      this.#fail('it printed a line longer than the protocol allows');
    }
  }

  #answer(line: string): void {
    // Windows PowerShell may put a UTF-8 byte order mark before its first line.
    const start = line.indexOf('{');
    if (start === -1) {
      return; // noise (a warning, a blank line): not an answer to anything
    }
    let value: unknown;
    try {
      value = JSON.parse(line.slice(start));
    } catch {
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return;
    }
    const answer = value as Record<string, unknown>;
    const pending = typeof answer.id === 'number' ? this.#pending.get(answer.id) : undefined;
    if (pending !== undefined && typeof answer.id === 'number') {
      this.#pending.delete(answer.id);
      clearTimeout(pending.timer);
      this.#failuresInARow = 0;
      pending.resolve({ ok: true, value: answer });
    }
  }

  #fail(reason: string): void {
    this.#kill();
    this.#lastFailure = reason;
    this.#failuresInARow += 1;
    const first = this.#options.firstBackoffMs ?? 1000;
    const max = this.#options.maxBackoffMs ?? 60_000;
    this.#retryAt = this.#options.now() + Math.min(max, first * 2 ** (this.#failuresInARow - 1));
    this.#settleAll(`the helper failed: ${reason}`);
  }

  #kill(): void {
    const child = this.#child;
    this.#child = null;
    this.#buffer = '';
    if (child !== null && child.exitCode === null && child.signalCode === null) {
      child.kill();
    }
  }

  #settleAll(reason: string): void {
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      clearTimeout(pending.timer);
      pending.resolve({ ok: false, reason });
    }
  }
}
