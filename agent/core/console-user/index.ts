// The console-user source of each OS, chosen once.
import type { Host } from '../host.ts';
import type { OsName } from '../platform.ts';
import type { ConsoleUserSource } from './console-user.ts';
import { darwinConsoleUser } from './darwin.ts';
import { linuxConsoleUserSource } from './linux.ts';
import { windowsConsoleUser } from './windows.ts';

/** The console-user source for `os`. */
export function consoleUserSourceFor(
  os: OsName,
  host: Host,
  log?: { warn(details: Record<string, unknown>, message: string): void },
): ConsoleUserSource {
  switch (os) {
    case 'linux':
      return linuxConsoleUserSource(host.run, log);
    case 'windows':
      return windowsConsoleUser(host);
    case 'darwin':
      return darwinConsoleUser(host);
  }
}
