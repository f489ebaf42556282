import { defineCheck } from '../define-check.ts';
import { darwin } from './darwin.ts';
import { evaluate } from './evaluate.ts';
import type { OsUpdatesFacts } from './facts.ts';
import { carryFirstSeen } from './first-seen.ts';
import { linux } from './linux.ts';
import { windows, WINDOWS_TIMEOUT_MS } from './windows.ts';

/** OS updates: version at least the policy minimum, automatic updates on, recent updates,
 * no pending security updates beyond the policy's allowance, and no restart left waiting. */
export const osUpdatesCheck = defineCheck<OsUpdatesFacts>({
  id: 'os-updates',
  title: 'OS updates',
  // The Windows Update search alone may take minutes; leave a minute for PowerShell start-up.
  timeoutMs: WINDOWS_TIMEOUT_MS + 60_000,
  platforms: { windows, darwin, linux },
  remember: carryFirstSeen,
  evaluate,
});
