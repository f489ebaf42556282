// A Host whose commands and files answer from recorded outputs: fakes the OS, never the parser.
import type { FileReader, Host } from '../../agent/core/host.ts';
import { ProbeError, type CommandOutput, type Runner } from '../../agent/core/runner.ts';

/** A recorded answer, or a function computing one from the arguments. */
export type Recorded = CommandOutput | ProbeError | ((args: readonly string[]) => CommandOutput);

/** Builds a Host from `command → answer` and `path → contents` tables; anything else is missing. */
export function fakeHost(options: {
  commands?: Record<string, Recorded>;
  files?: Record<string, string | Uint8Array>;
  mtimes?: Record<string, Date>;
  now?: Date;
}): Host & { calls: { command: string; args: readonly string[] }[] } {
  const calls: { command: string; args: readonly string[] }[] = [];
  const run: Runner = (command, args) => {
    calls.push({ command, args });
    const answer = options.commands?.[command];
    if (answer === undefined) {
      return Promise.reject(new ProbeError('command-missing', `${command} is not installed`));
    }
    if (answer instanceof ProbeError) {
      return Promise.reject(answer);
    }
    return Promise.resolve(typeof answer === 'function' ? answer(args) : answer);
  };
  const bytes = (path: string) => {
    const content = options.files?.[path];
    return typeof content === 'string' ? new TextEncoder().encode(content) : (content ?? null);
  };
  const files: FileReader = {
    readBytes: (path, max) => Promise.resolve(bytes(path)?.subarray(0, max) ?? null),
    readText: (path) => {
      const b = bytes(path);
      return Promise.resolve(b === null ? null : new TextDecoder().decode(b));
    },
    mtime: (path) => Promise.resolve(options.mtimes?.[path] ?? null),
    list: (dir) => {
      const prefix = dir.endsWith('/') ? dir : `${dir}/`;
      const names = Object.keys({ ...options.files, ...options.mtimes })
        .filter((p) => p.startsWith(prefix))
        .map((p) => p.slice(prefix.length).split('/')[0] ?? '');
      return Promise.resolve(names.length === 0 ? null : [...new Set(names)]);
    },
  };
  const now = options.now ?? new Date('2026-11-23T09:00:00Z');
  return { run, files, now: () => now, calls };
}
