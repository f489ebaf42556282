import { execFile } from 'node:child_process';
import type { UnknownCode } from '../../shared/index.ts';
import { probeEnvironment } from './probe-environment.ts';

/** What a finished command printed. A non-zero exit is output too: parsers decide what it means. */
export interface CommandOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Options for one command. */
export interface RunOptions {
  timeoutMs: number;
  /**
   * Extra variables on top of the fixed probe environment (probe-environment.ts), which never
   * inherits the service's own; PATH and the locale cannot be overridden.
   */
  env?: Record<string, string>;
  /** Text written to the command's standard input. */
  input?: string;
}

/** Runs one command with an argument array (never a shell string). Injected so tests can record. */
export type Runner = (
  command: string,
  args: readonly string[],
  options: RunOptions,
) => Promise<CommandOutput>;

/** A command that could not produce output: missing, timed out, refused. Becomes `unknown`. */
export class ProbeError extends Error {
  readonly code: UnknownCode;
  constructor(code: UnknownCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProbeError';
    this.code = code;
  }
}

const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

/**
 * The real runner: `execFile`, a timeout that kills the process, UTF-8 output, and a fixed,
 * root-only PATH and minimal environment whatever started the service (issue 12: a fake `nft`
 * early on an inherited PATH reported the firewall on).
 */
export const execRunner: Runner = (command, args, options) =>
  new Promise((resolve, reject) => {
    // Node looks a bare command up on the PATH of the child's environment (child_process docs,
    // "options.env.PATH will be used"), so the fixed PATH also decides which program runs.
    const fixed = probeEnvironment(process.platform, process.env);
    const child = execFile(
      command,
      [...args],
      {
        timeout: options.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: MAX_OUTPUT_BYTES,
        encoding: 'utf8',
        windowsHide: true,
        env: { ...options.env, ...fixed.env },
        cwd: fixed.cwd,
      },
      (error, stdout, stderr) => {
        if (!error) {
          resolve({ stdout, stderr, exitCode: 0 });
          return;
        }
        const failure = error as NodeJS.ErrnoException & {
          killed?: boolean;
          code?: string | number;
        };
        if (failure.code === 'ENOENT') {
          reject(
            new ProbeError('command-missing', `${command} is not installed`, { cause: error }),
          );
        } else if (failure.code === 'EACCES' || failure.code === 'EPERM') {
          reject(
            new ProbeError('permission-denied', `not allowed to run ${command}`, { cause: error }),
          );
        } else if (failure.killed) {
          reject(
            new ProbeError('timeout', `${command} did not finish within ${options.timeoutMs} ms`, {
              cause: error,
            }),
          );
        } else if (typeof failure.code === 'number') {
          resolve({ stdout, stderr, exitCode: failure.code });
        } else {
          reject(
            new ProbeError('probe-failed', `${command} failed: ${failure.message}`, {
              cause: error,
            }),
          );
        }
      },
    );
    if (options.input !== undefined) {
      child.stdin?.end(options.input);
    }
  });
