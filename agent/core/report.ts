import { randomUUID } from 'node:crypto';
import {
  SCHEMA_VERSION,
  type CheckResult,
  type CheckStatus,
  type ComplianceReport,
  type DeviceFacts,
  type Policy,
} from '../../shared/index.ts';

// Worst first: a failure outranks not knowing, which outranks a warning.
const SEVERITY: Record<CheckStatus, number> = { fail: 3, unknown: 2, warn: 1, pass: 0 };

/** The worst status among results; `pass` only when every result passed or warned-free. */
export function overallStatus(results: readonly CheckResult[]): CheckStatus {
  return results.reduce<CheckStatus>(
    (worst, result) => (SEVERITY[result.status] > SEVERITY[worst] ? result.status : worst),
    'pass',
  );
}

/** Assembles a compliance report from one check pass. */
export function buildReport(input: {
  device: DeviceFacts;
  policy: Policy;
  results: CheckResult[];
  now: Date;
}): ComplianceReport {
  return {
    schemaVersion: SCHEMA_VERSION,
    id: randomUUID(),
    createdAt: input.now.toISOString(),
    policy: { name: input.policy.name, version: input.policy.version },
    device: input.device,
    overall: overallStatus(input.results),
    results: input.results,
  };
}
