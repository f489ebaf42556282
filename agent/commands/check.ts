import {
  ComplianceReportSchema,
  describeProblems,
  validate,
  type Policy,
} from '../../shared/index.ts';
import { allChecks } from '../core/checks/index.ts';
import { runChecks } from '../core/checks/run-checks.ts';
import { collectDeviceFacts } from '../core/facts/device-facts.ts';
import type { Host } from '../core/host.ts';
import type { OsName } from '../core/platform.ts';
import { readDefaultPolicy, readPolicyFile } from '../core/policy/policy-file.ts';
import { buildReport } from '../core/report.ts';
import { checkExitCode, renderResultsTable, type Paint } from './table.ts';

/** Options of `hallpass check`. */
export interface CheckCommandOptions {
  os: OsName;
  host: Host;
  json: boolean;
  policyPath: string | undefined;
  agentVersion: string;
  paint: Paint;
  write: (text: string) => void;
}

/** Runs every check once and prints a table or a JSON report; returns the exit code. */
export async function checkCommand(options: CheckCommandOptions): Promise<number> {
  const policy: Policy =
    options.policyPath === undefined
      ? await readDefaultPolicy()
      : await readPolicyFile(options.policyPath);
  const [results, device] = await Promise.all([
    runChecks({ checks: allChecks, os: options.os, host: options.host, policy }),
    collectDeviceFacts(options.os, options.agentVersion),
  ]);
  if (options.json) {
    const report = buildReport({ device: device.facts, policy, results, now: options.host.now() });
    const checked = validate(ComplianceReportSchema, report);
    if (!checked.ok) {
      throw new Error(
        `bug: the report does not match its schema: ${describeProblems(checked.problems)}`,
      );
    }
    options.write(JSON.stringify(report, null, 2) + '\n');
  } else {
    const titles = new Map(allChecks.map((c) => [c.id, c.title]));
    options.write(renderResultsTable(results, titles, options.paint));
    const advice = results.filter((r) => r.status !== 'pass' && r.remediation !== undefined);
    if (advice.length > 0) {
      options.write('\nFor ICT:\n');
      for (const r of advice) {
        options.write(`  ${titles.get(r.checkId) ?? r.checkId}: ${r.remediation ?? ''}\n`);
      }
    }
    options.write(`\nPolicy: ${policy.name} (version ${policy.version})\n`);
  }
  return checkExitCode(results);
}
