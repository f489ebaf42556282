// The tray icon's state from what the service said: four states a pupil can tell apart by
// shape and words, not colour alone. Pure: the Electron main process only picks the image.
import type { AgentStatus, CheckId } from '../../shared/index.ts';
import type { ConnectionState } from './service-client.ts';

/** What the icon shows. */
export type IconState = 'compliant' | 'needs-attention' | 'not-compliant' | 'unreachable';

/** The icon's state with the tooltip that says it in words. */
export interface IconView {
  state: IconState;
  tooltip: string;
  /** The checks behind a state other than compliant, for the status menu line. */
  checks: CheckId[];
}

/**
 * Fail wins over everything the service said; warn or unknown (never counted as a pass), a USB
 * guard that cannot enforce, passes that cannot be stored or no check run yet need attention.
 * No answer from the service is its own state: the tray cannot vouch for anything then.
 */
export function iconView(connection: ConnectionState, status: AgentStatus | null): IconView {
  if (connection !== 'connected' || status === null) {
    return {
      state: 'unreachable',
      tooltip: 'Hallpass: cannot reach the Hallpass service on this computer',
      checks: [],
    };
  }
  const failing = status.results.filter((r) => r.status === 'fail').map((r) => r.checkId);
  if (failing.length > 0) {
    return {
      state: 'not-compliant',
      tooltip: `Hallpass: ${plural(failing.length, 'problem')} to fix on this computer`,
      checks: failing,
    };
  }
  const unsure = status.results
    .filter((r) => r.status === 'warn' || r.status === 'unknown')
    .map((r) => r.checkId);
  const serviceTrouble =
    status.results.length === 0 || status.usb.problem !== null || status.passFailures !== null;
  if (unsure.length > 0 || serviceTrouble) {
    return {
      state: 'needs-attention',
      tooltip:
        status.results.length === 0
          ? 'Hallpass: checks have not run yet'
          : `Hallpass: ${plural(Math.max(unsure.length, 1), 'thing')} to look at`,
      checks: unsure,
    };
  }
  return { state: 'compliant', tooltip: 'Hallpass: everything is fine', checks: [] };
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
