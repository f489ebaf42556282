// The one place that picks the device credential store for this OS (STYLE.md §2: chosen once).
import { assertNever } from '../checks/define-check.ts';
import type { OsName } from '../platform.ts';
import type { Runner } from '../runner.ts';
import { DarwinSecretStore } from './darwin.ts';
import { LinuxSecretStore } from './linux.ts';
import type { SecretStore } from './secret-store.ts';
import { WindowsSecretStore } from './windows.ts';

export {
  checkCredential,
  CredentialError,
  type DeviceCredential,
  type SecretStore,
} from './secret-store.ts';

/** The machine-scoped credential store of `os`; `stateDir` is unused on macOS (keychain). */
export function secretStoreFor(
  os: OsName,
  options: { stateDir: string; run: Runner },
): SecretStore {
  switch (os) {
    case 'linux':
      return new LinuxSecretStore({ stateDir: options.stateDir });
    case 'windows':
      return new WindowsSecretStore(options);
    case 'darwin':
      return new DarwinSecretStore({ run: options.run });
    default:
      return assertNever(os);
  }
}
