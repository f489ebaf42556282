// The session actions of each OS, chosen once.
import type { Host } from '../../host.ts';
import type { OsName } from '../../platform.ts';
import { darwinSessionActions } from './darwin.ts';
import { linuxSessionActions } from './linux.ts';
import type { SessionActions } from './session-actions.ts';
import { windowsSessionActions } from './windows.ts';

export type { SessionActions } from './session-actions.ts';

/** The sign-out and lock of `os`. */
export function sessionActionsFor(os: OsName, host: Host): SessionActions {
  switch (os) {
    case 'linux':
      return linuxSessionActions(host.run);
    case 'windows':
      return windowsSessionActions(host);
    case 'darwin':
      return darwinSessionActions(host);
  }
}
