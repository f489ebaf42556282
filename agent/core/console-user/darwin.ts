// The macOS console user (PLATFORMS.md §7): the System Configuration key
// State:/Users/ConsoleUser, which names `loginwindow` while the login window has the console,
// and the user's groups from `id -Gn`. Both are asked as root of the OS, never of the tray.
import type { Host } from '../host.ts';
import { ProbeError } from '../runner.ts';
import { deviceText } from '../usb/sanitize.ts';
import type { ConsoleUser, ConsoleUserSource } from './console-user.ts';

const TIMEOUT_MS = 10_000;

/** A macOS short name (letters, digits, `_ - . @`; IdP aliases carry `@`), never an option. */
const SHORT_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,243}$/;
/** Who holds the console when nobody does: the login window, or root before it starts. */
const NOBODY = new Set(['loginwindow', 'root', '']);

/**
 * The console user's short name from `scutil` output; null when nobody is signed in. Output
 * that is not scutil's dictionary is a ProbeError, never a guess at a user.
 */
export function parseScutilConsoleUser(raw: string): string | null {
  const text = raw.trim();
  // Before the first login the key does not exist yet.
  if (text === 'No such key' || text === '') {
    return null;
  }
  if (!text.startsWith('<dictionary> {')) {
    throw new ProbeError(
      'unrecognised-output',
      `not scutil's dictionary: ${deviceText(text, 120)}`,
    );
  }
  // Top-level keys are indented two spaces; SessionInfo's nested ones more.
  const names = text
    .split('\n')
    .map((line) => /^ {2}Name : (.*)$/.exec(line.replace(/\r$/, ''))?.[1])
    .filter((name): name is string => name !== undefined);
  if (names.length !== 1) {
    throw new ProbeError('unrecognised-output', `scutil printed ${names.length} Name keys`);
  }
  const name = (names[0] ?? '').trim();
  if (NOBODY.has(name)) {
    return null;
  }
  if (!SHORT_NAME.test(name)) {
    throw new ProbeError('unrecognised-output', `not a short name: ${deviceText(name, 80)}`);
  }
  return name;
}

/** Group names from `id -Gn` (space-separated on one line). */
export function parseIdGroups(raw: string): string[] {
  const lines = raw.trim().split('\n');
  if (lines.length !== 1 || lines[0] === '') {
    throw new ProbeError('unrecognised-output', 'id -Gn printed no single line of groups');
  }
  return [...new Set((lines[0] ?? '').split(/\s+/).filter((g) => g !== ''))].map((g) =>
    deviceText(g, 256),
  );
}

/**
 * Whether `id -Gn` named every group: BSD `id` prints a group it cannot name (a directory group
 * while the directory does not answer and nothing is cached) as its number, so a group that is
 * only digits means the names are incomplete.
 */
export function groupsAllNamed(groups: readonly string[]): boolean {
  return !groups.some((group) => /^[0-9]+$/.test(group));
}

/** The console user on macOS. */
export function darwinConsoleUser(host: Host): ConsoleUserSource {
  return {
    async current(): Promise<ConsoleUser | null> {
      const scutil = await host.run('scutil', [], {
        timeoutMs: TIMEOUT_MS,
        input: 'show State:/Users/ConsoleUser\n',
      });
      const name = parseScutilConsoleUser(scutil.stdout);
      if (name === null) {
        return null;
      }
      const id = await host.run('id', ['-Gn', name], { timeoutMs: TIMEOUT_MS });
      if (id.exitCode !== 0) {
        throw new ProbeError(
          'probe-failed',
          `id -Gn ${name} exited ${id.exitCode}: ${deviceText(id.stderr, 200)}`,
        );
      }
      const groups = parseIdGroups(id.stdout);
      return { name, groups, groupsComplete: groupsAllNamed(groups) };
    },
  };
}
