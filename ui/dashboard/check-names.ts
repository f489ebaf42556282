// The checks' names as the pages show them. Kept apart from dom.ts (which needs the DOM) so the
// test that holds it equal to the server's copy (the governors' PDF) can import it under Node.
import type { CheckId } from '../../shared/schemas/check-result.ts';

/** Human names of the checks, in the order ICT reads them. */
export const CHECK_NAMES: Record<CheckId, string> = {
  'disk-encryption': 'Disk encryption',
  antivirus: 'Anti-virus',
  'os-updates': 'OS updates',
  firewall: 'Firewall',
  'screen-lock': 'Screen lock',
  'agent-health': 'Agent health',
};
