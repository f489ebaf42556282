import { describe, expect, it } from 'vitest';
import {
  ComplianceReportSchema,
  validate,
  type CheckResult,
  type CheckStatus,
} from '../../../shared/index.ts';
import { readDefaultPolicy } from '../../../agent/core/policy/policy-file.ts';
import { buildReport, overallStatus } from '../../../agent/core/report.ts';

const result = (status: CheckStatus): CheckResult => ({
  checkId: 'firewall',
  status,
  summary: status,
  evidence: {},
  measuredAt: '2026-11-23T09:00:00.000Z',
  durationMs: 1,
});

describe('overallStatus', () => {
  it.each<[CheckStatus[], CheckStatus]>([
    [[], 'pass'],
    [['pass', 'pass'], 'pass'],
    [['pass', 'warn'], 'warn'],
    [['warn', 'unknown'], 'unknown'],
    [['unknown', 'fail', 'pass'], 'fail'],
  ])('%j → %s', (statuses, expected) => {
    expect(overallStatus(statuses.map(result))).toBe(expected);
  });
});

describe('buildReport', () => {
  it('builds a report that validates against the schema', async () => {
    const report = buildReport({
      device: {
        hostname: 'lab-pc-07',
        os: {
          name: 'windows',
          distro: 'Microsoft Windows 11 Education',
          version: '10.0.22631',
          build: '22631',
          arch: 'x64',
        },
        model: 'ThinkPad L13',
        manufacturer: 'LENOVO',
        serial: 'PF3XXXXX',
        machineIdHash: 'a'.repeat(64),
        agentVersion: '0.1.0',
      },
      policy: await readDefaultPolicy(),
      results: [result('pass'), result('unknown')],
      now: new Date('2026-11-23T09:00:00Z'),
    });
    expect(validate(ComplianceReportSchema, report).ok).toBe(true);
    expect(report.overall).toBe('unknown');
  });
});
