import { readFileSync } from 'node:fs';
import type { Host } from '../../../../../agent/core/host.ts';
import { ProbeError, type CommandOutput, type Runner } from '../../../../../agent/core/runner.ts';

/** A recorded fixture of this check, as text. */
export function fixture(os: 'windows' | 'darwin' | 'linux', name: string): string {
  return readFileSync(
    new URL(`../../../../fixtures/${os}/firewall/${name}`, import.meta.url),
    'utf8',
  );
}

/** A successful command's output carrying a fixture. */
export function ok(stdout: string): CommandOutput {
  return { stdout, stderr: '', exitCode: 0 };
}

/** A host whose commands answer from a table; a command not in it is missing. */
export function fakeHost(answers: Record<string, CommandOutput>): Host {
  const run: Runner = (command) => {
    const answer = answers[command];
    return answer
      ? Promise.resolve(answer)
      : Promise.reject(new ProbeError('command-missing', `${command} is not installed`));
  };
  const none = () => Promise.resolve(null);
  return {
    run,
    files: { readBytes: none, readText: none, mtime: none, list: none },
    now: () => new Date('2026-09-01T08:00:00Z'),
  };
}
