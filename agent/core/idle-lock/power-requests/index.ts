// The display-request source of each OS, chosen once. Only Windows has display power requests
// that the idle lock needs the service for: macOS's `pmset -g assertions` and Linux's logind and
// GNOME inhibitors are readable by the user, so the tray reads those itself.
import type { Runner } from '../../runner.ts';
import type { OsName } from '../../platform.ts';
import type { DisplayRequestSource } from './power-requests.ts';
import { windowsDisplayRequests } from './windows.ts';

/** The source for `os`; elsewhere every answer is unknown, saying why, and nothing is run. */
export function displayRequestSourceFor(os: OsName, run: Runner): DisplayRequestSource {
  switch (os) {
    case 'windows':
      return windowsDisplayRequests(run);
    case 'linux':
    case 'darwin': {
      const answer = {
        known: false as const,
        reason: `unsupported: display power requests (powercfg /requests) exist only on Windows, not ${os}`,
      };
      return { read: () => Promise.resolve(answer) };
    }
  }
}
