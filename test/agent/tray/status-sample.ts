// A valid AgentStatus for the tray's pure modules, checked against the shared schema so a
// schema change breaks the sample rather than the tests quietly testing a shape that no longer
// exists.
import {
  AgentStatusSchema,
  validate,
  type AgentStatus,
  type CheckId,
  type CheckResult,
  type CheckStatus,
} from '../../../shared/index.ts';

/** One check result with a pupil summary and a staff remediation. */
export function result(checkId: CheckId, status: CheckStatus): CheckResult {
  return {
    checkId,
    status,
    summary: `${checkId} is ${status}.`,
    remediation: `Fix ${checkId}.`,
    evidence: {},
    measuredAt: '2026-12-05T09:00:00.000Z',
    durationMs: 12,
  };
}

/** A status with these results, otherwise healthy. */
export function statusWith(
  results: CheckResult[],
  overrides: Partial<AgentStatus> = {},
): AgentStatus {
  const status: AgentStatus = {
    agentVersion: '0.1.0',
    enrolled: true,
    deviceId: 'dev-1',
    serverUrl: 'https://hallpass.example.invalid',
    policy: { name: 'Pupil laptops', version: 7 },
    lastCheckAt: '2026-12-05T09:00:00.000Z',
    lastReportQueuedAt: '2026-12-05T09:00:01.000Z',
    lastDeliveryAt: '2026-12-05T09:00:02.000Z',
    lastDeliveryError: null,
    deliveryFailures: 0,
    nextDeliveryAttemptAt: null,
    passFailures: null,
    outbox: { reports: 0, events: 0 },
    results,
    usb: { mode: 'block', problem: null, recent: [] },
    ...overrides,
  };
  const checked = validate(AgentStatusSchema, status);
  if (!checked.ok) {
    throw new Error(`sample status is invalid: ${JSON.stringify(checked.problems)}`);
  }
  return status;
}
