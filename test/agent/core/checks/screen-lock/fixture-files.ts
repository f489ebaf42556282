import { existsSync, readFileSync } from 'node:fs';
import type { CommandOutput } from '../../../../../agent/core/runner.ts';

/** The folder of one OS's screen-lock fixtures. */
export const fixtureDir = (os: 'windows' | 'darwin' | 'linux'): URL =>
  new URL(`../../../../fixtures/${os}/screen-lock/`, import.meta.url);

const readOr = (url: URL, fallback: string): string =>
  existsSync(url) ? readFileSync(url, 'utf8') : fallback;

/** Loads `<name>.stdout`, `<name>.stderr` and `<name>.exit` (each optional) as one output. */
export function loadOutput(dir: URL, name: string): CommandOutput {
  return {
    stdout: readOr(new URL(name + '.stdout', dir), ''),
    stderr: readOr(new URL(name + '.stderr', dir), ''),
    exitCode: Number(readOr(new URL(name + '.exit', dir), '0').trim()),
  };
}
