// The console-user source of each OS, chosen once.
import type { Host } from '../host.ts';
import type { OsName } from '../platform.ts';
import type { ConsoleUserSource } from './console-user.ts';
import { linuxConsoleUserSource } from './linux.ts';

/** A source that never knows anyone: exemptions by user never apply (fail closed). */
const NOBODY: ConsoleUserSource = { current: () => Promise.resolve(null) };

/** The console-user source for `os`. Windows and macOS answer null until theirs are wired in. */
export function consoleUserSourceFor(
  os: OsName,
  host: Pick<Host, 'run'>,
  log?: { warn(details: Record<string, unknown>, message: string): void },
): ConsoleUserSource {
  switch (os) {
    case 'linux':
      return linuxConsoleUserSource(host.run, log);
    case 'windows':
    case 'darwin':
      return NOBODY;
  }
}
