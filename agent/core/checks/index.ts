import type { CheckDefinition } from './define-check.ts';
import { antivirusCheck } from './antivirus/index.ts';
import { diskEncryptionCheck } from './disk-encryption/index.ts';
import { firewallCheck } from './firewall/index.ts';
import { osUpdatesCheck } from './os-updates/index.ts';
import { screenLockCheck } from './screen-lock/index.ts';

/** Every compliance check, in the order tables show them. */
export const allChecks: readonly CheckDefinition[] = [
  diskEncryptionCheck,
  antivirusCheck,
  osUpdatesCheck,
  firewallCheck,
  screenLockCheck,
];
