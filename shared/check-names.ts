// The checks' names in plain words, for what a person reads outside the dashboard (the governors'
// PDF). The dashboard keeps its own copy in ui/dashboard/check-names.ts, because ui/ may import
// only types from shared/; test/shared/check-names.test.ts holds the two copies equal.
import type { CheckId } from './schemas/check-result.ts';

/** Human names of the checks, in the order ICT reads them. */
export const CHECK_NAMES: Record<CheckId, string> = {
  'disk-encryption': 'Disk encryption',
  antivirus: 'Anti-virus',
  'os-updates': 'OS updates',
  firewall: 'Firewall',
  'screen-lock': 'Screen lock',
  'agent-health': 'Agent health',
};
