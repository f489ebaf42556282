// What `npm test` needs from Debian and what to do about what is missing: the package list
// (test-prerequisites.list), which of it dpkg says is installed, and the one decision
// (install, or stop and name the command). The entry point is test-prerequisites.ts.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/** The list's file, beside this script. */
export const LIST_FILE = new URL('./test-prerequisites.list', import.meta.url);

/** Package names in a list's text: one a line, `#` starts a comment. */
export function parsePackageList(text: string): string[] {
  return text
    .split('\n')
    .map((line) => (line.split('#')[0] ?? '').trim())
    .filter((line) => line !== '');
}

/** Names from `HALLPASS_TEST_PACKAGES_EXTRA` (space- or comma-separated). */
export function extraPackages(value: string | undefined): string[] {
  return (value ?? '').split(/[\s,]+/).filter((name) => name !== '');
}

/** The packages the suites need: the list file's and any extra ones, each once. */
export async function neededPackages(extra: readonly string[]): Promise<string[]> {
  const listed = parsePackageList(await readFile(LIST_FILE, 'utf8'));
  return [...new Set([...listed, ...extra])];
}

/**
 * The names dpkg does not show as installed, in the order given; null when dpkg-query cannot
 * run (not a Debian system). dpkg-query prints one line per package it knows and complains on
 * stderr (exit 1) about the rest, so both missing and unknown names count as missing.
 */
export function missingPackages(names: readonly string[]): Promise<string[] | null> {
  return new Promise((resolve) => {
    if (names.length === 0) {
      resolve([]);
      return;
    }
    execFile(
      'dpkg-query',
      ['-W', '-f=${Package} ${Status}\\n', ...names],
      { env: { ...process.env, LC_ALL: 'C' } },
      (error, stdout) => {
        if (error !== null && typeof error.code !== 'number') {
          resolve(null);
          return;
        }
        const installed = new Set(
          stdout
            .split('\n')
            .filter((line) => line.endsWith(' install ok installed'))
            .map((line) => line.split(' ')[0]),
        );
        resolve(names.filter((name) => !installed.has(name)));
      },
    );
  });
}

/** What the machine allows. */
export interface Situation {
  /** Packages still missing; null when dpkg could not be asked. */
  missing: string[] | null;
  isRoot: boolean;
  hasAptGet: boolean;
  /** False when HALLPASS_TEST_PACKAGES_INSTALL=never. */
  installAllowed: boolean;
}

/** What to do before the tests run. */
export type Decision =
  | { kind: 'ready' }
  | { kind: 'not-debian' }
  | { kind: 'install'; packages: string[] }
  | { kind: 'stop'; packages: string[]; command: string };

/** The command a person runs to install `packages`. */
export function installCommand(packages: readonly string[], isRoot: boolean): string {
  return `${isRoot ? '' : 'sudo '}apt-get install -y ${packages.join(' ')}`;
}

/** Install when root with apt-get (and allowed); otherwise stop and name the one command. */
export function decide(situation: Situation): Decision {
  const { missing } = situation;
  if (missing === null) {
    return { kind: 'not-debian' };
  }
  if (missing.length === 0) {
    return { kind: 'ready' };
  }
  if (situation.isRoot && situation.hasAptGet && situation.installAllowed) {
    return { kind: 'install', packages: missing };
  }
  return { kind: 'stop', packages: missing, command: installCommand(missing, situation.isRoot) };
}
