// The network hold of each OS, chosen once: Linux holds with nftables (linux.ts), Windows with
// Windows Firewall block rules (windows.ts), macOS with a pf anchor (darwin.ts). Only the Linux
// hold has run for real here (in a network namespace); the Windows and macOS holds are tested on
// their script and rule text and on recorded outputs of the commands they read.
import { join } from 'node:path';
import type { OsName } from '../platform.ts';
import type { Runner } from '../runner.ts';
import { DarwinNetworkHold } from './darwin.ts';
import { LinuxNetworkHold } from './linux.ts';
import type { NetworkHold } from './network-hold.ts';
import { WindowsNetworkHold } from './windows.ts';

export type { HoldTarget, NetworkHold } from './network-hold.ts';

/** What the Windows and macOS holds run commands with and keep their state in. */
export interface NetworkHoldContext {
  run: Runner;
  /** The service's root-only state folder (macOS keeps pf's enable token there). */
  stateDir: string;
}

/** The network hold of `os`. */
export function networkHoldFor(os: OsName, context: NetworkHoldContext): NetworkHold {
  switch (os) {
    case 'linux':
      return new LinuxNetworkHold();
    case 'windows':
      return new WindowsNetworkHold({ run: context.run });
    case 'darwin':
      return new DarwinNetworkHold({
        run: context.run,
        tokenFile: join(context.stateDir, 'network-hold-pf-token'),
      });
  }
}
