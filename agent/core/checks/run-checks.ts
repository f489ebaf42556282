import type { CheckId, CheckResult, Policy, UnknownCode } from '../../../shared/index.ts';
import type { Host } from '../host.ts';
import type { OsName } from '../platform.ts';
import { ProbeError } from '../runner.ts';
import type { CheckDefinition, Facts, Verdict } from './define-check.ts';

/** Where a crashed probe is reported; the service passes its pino logger. */
export interface CheckLogger {
  warn(details: Record<string, unknown>, message: string): void;
}

/** Inputs of one check pass. */
export interface CheckPass {
  checks: readonly CheckDefinition[];
  os: OsName;
  host: Host;
  policy: Policy;
  log?: CheckLogger;
  /** This check's last result, for checks that track how long a state lasts (os-updates). */
  previous?: (checkId: CheckId) => CheckResult | undefined;
}

const unknown = (code: UnknownCode, detail: string, summary: string): Verdict => ({
  status: 'unknown',
  summary,
  reason: { code, detail },
});

class CheckTimeout extends Error {}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new CheckTimeout(`no answer within ${ms} ms`));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    clearTimeout(timer);
  });
}

/** Runs one check to a result. Never throws: a hung or crashing probe is `unknown` for this check only. */
export async function runCheck(
  check: CheckDefinition,
  pass: Omit<CheckPass, 'checks'>,
): Promise<CheckResult> {
  const started = performance.now();
  const measuredAt = pass.host.now();
  let evidence: Facts = {};
  let verdict: Verdict;
  const platform = check.platforms[pass.os];
  if (!platform) {
    verdict = unknown(
      'unsupported-os',
      `${check.id} has no ${pass.os} implementation`,
      `Not checked on ${pass.os}.`,
    );
  } else {
    try {
      const parsed = await withTimeout(platform.collect(pass.host), check.timeoutMs);
      if (parsed.ok) {
        const facts =
          check.remember?.(parsed.facts, pass.previous?.(check.id), measuredAt) ?? parsed.facts;
        evidence = facts;
        verdict = check.evaluate(facts, pass.policy, { os: pass.os, now: measuredAt });
      } else {
        verdict = unknown(parsed.code, parsed.detail, `Could not tell: ${parsed.detail}`);
      }
    } catch (error) {
      if (error instanceof ProbeError) {
        verdict = unknown(error.code, error.message, `Could not tell: ${error.message}`);
      } else if (error instanceof CheckTimeout) {
        verdict = unknown(
          'timeout',
          error.message,
          `Could not tell: the check took too long (${error.message}).`,
        );
      } else {
        pass.log?.warn({ checkId: check.id, err: error }, 'check crashed');
        const detail = error instanceof Error ? error.message : String(error);
        verdict = unknown(
          'probe-failed',
          `the check crashed: ${detail}`,
          `Could not tell: the check crashed (${detail}).`,
        );
      }
    }
  }
  const result: CheckResult = {
    checkId: check.id,
    status: verdict.status,
    summary: verdict.summary.slice(0, 300),
    evidence,
    measuredAt: measuredAt.toISOString(),
    durationMs: Math.round(performance.now() - started),
  };
  if (verdict.remediation !== undefined) {
    result.remediation = verdict.remediation.slice(0, 1000);
  }
  if (verdict.status === 'unknown') {
    result.reason = { code: verdict.reason.code, detail: verdict.reason.detail.slice(0, 2000) };
  }
  return result;
}

/** Runs every check concurrently; results come back in the order of `checks`. */
export function runChecks(pass: CheckPass): Promise<CheckResult[]> {
  return Promise.all(pass.checks.map((check) => runCheck(check, pass)));
}
