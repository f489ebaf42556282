// The agent-health result the service adds to every report: whether its own check passes are
// being stored. A pass whose report cannot be written (a full or failing state disk) is otherwise
// invisible: the tray shows fresh results, nothing reaches ICT, and nothing says why. The first
// report that gets through after such a run says how many passes were lost and since when.
import type { CheckResult } from '../../shared/index.ts';

/** Check passes in a row whose report could not be stored, since when, and the last error. */
export interface PassFailures {
  count: number;
  since: Date;
  lastError: string;
}

/** Adds one failed pass to the run of failures. */
export function addPassFailure(
  failures: PassFailures | null,
  at: Date,
  error: string,
): PassFailures {
  return failures === null
    ? { count: 1, since: at, lastError: error }
    : { count: failures.count + 1, since: failures.since, lastError: error };
}

/** The agent-health result for a report measured at `now`, given the failed passes before it. */
export function agentHealthResult(failures: PassFailures | null, now: Date): CheckResult {
  const measuredAt = now.toISOString();
  if (failures === null) {
    return {
      checkId: 'agent-health',
      status: 'pass',
      summary: 'The Hallpass service is running and storing its check results',
      evidence: { passesNotStored: 0 },
      measuredAt,
      durationMs: 0,
    };
  }
  const passes = failures.count === 1 ? 'check pass' : 'check passes';
  return {
    checkId: 'agent-health',
    status: 'fail',
    summary:
      `${failures.count} ${passes} could not be stored since ${failures.since.toISOString()}: ${failures.lastError}`.slice(
        0,
        300,
      ),
    remediation:
      'The service could not write its state folder (often a full disk). Free space on the disk holding the Hallpass state folder and check the service log.',
    evidence: {
      passesNotStored: failures.count,
      since: failures.since.toISOString(),
      lastError: failures.lastError,
    },
    measuredAt,
    durationMs: 0,
  };
}
