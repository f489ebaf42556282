import { defineCheck } from '../define-check.ts';
import { darwin } from './darwin.ts';
import { evaluate } from './evaluate.ts';
import type { DiskEncryptionFacts } from './facts.ts';
import { linux } from './linux.ts';
import { windows } from './windows.ts';

/** Is the system volume encrypted (BitLocker, FileVault, LUKS)? REQUIREMENTS.md: trust §7, BYOD §6. */
export const diskEncryptionCheck = defineCheck<DiskEncryptionFacts>({
  id: 'disk-encryption',
  title: 'Disk encryption',
  // PowerShell start-up plus a CIM fallback can take tens of seconds on a slow laptop.
  timeoutMs: 45_000,
  platforms: { windows, darwin, linux },
  evaluate,
});
