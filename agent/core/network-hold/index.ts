// The network hold of each OS, chosen once. Linux holds with nftables; Windows (Windows Firewall)
// and macOS (pf) are not built yet and say so when asked to hold.
import type { OsName } from '../platform.ts';
import { LinuxNetworkHold } from './linux.ts';
import type { HoldTarget, NetworkHold } from './network-hold.ts';

export type { HoldTarget, NetworkHold } from './network-hold.ts';

/** A hold that cannot hold: every attempt rejects with `reason`. */
class UnsupportedNetworkHold implements NetworkHold {
  readonly #reason: string;
  constructor(reason: string) {
    this.#reason = reason;
  }
  hold(_allowed: HoldTarget[]): Promise<void> {
    return Promise.reject(new Error(this.#reason));
  }
  release(): Promise<void> {
    return Promise.resolve();
  }
  held(): boolean {
    return false;
  }
}

/** The network hold of `os`. */
export function networkHoldFor(os: OsName): NetworkHold {
  switch (os) {
    case 'linux':
      return new LinuxNetworkHold();
    case 'windows':
      return new UnsupportedNetworkHold(
        'holding the network is not built for Windows yet (Windows Firewall): recorded only',
      );
    case 'darwin':
      return new UnsupportedNetworkHold(
        'holding the network is not built for macOS yet (pf): recorded only',
      );
  }
}
