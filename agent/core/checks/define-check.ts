import type {
  CheckId,
  CheckResult,
  CheckStatus,
  Policy,
  UnknownCode,
  UnknownReason,
} from '../../../shared/index.ts';
import type { Host } from '../host.ts';
import type { OsName } from '../platform.ts';

/** A parser's answer: facts, or why the output could not be understood. Never a guess. */
export type Parsed<F> = { ok: true; facts: F } | { ok: false; code: UnknownCode; detail: string };

/** Facts are plain JSON so they can travel as evidence. */
export type Facts = Record<string, unknown>;

/** One OS's half of a check: a probe that gathers raw output and a pure parser. */
export interface PlatformCheck<F extends Facts> {
  collect(host: Host): Promise<Parsed<F>>;
}

/** Builds a PlatformCheck from a thin probe and a pure parser. */
export function platformCheck<R, F extends Facts>(parts: {
  probe: (host: Host) => Promise<R>;
  parse: (raw: R) => Parsed<F>;
}): PlatformCheck<F> {
  return { collect: async (host) => parts.parse(await parts.probe(host)) };
}

/** What an evaluator decides. `unknown` carries a reason. */
export type Verdict =
  | { status: Exclude<CheckStatus, 'unknown'>; summary: string; remediation?: string }
  | { status: 'unknown'; summary: string; remediation?: string; reason: UnknownReason };

/** Context an evaluator may consult besides facts and policy. */
export interface EvaluationContext {
  os: OsName;
  now: Date;
}

/** A compliance check: per-OS probes and one pure evaluator. */
export interface CheckDefinition<F extends Facts = Facts> {
  id: CheckId;
  /** Short human title for tables. */
  title: string;
  /** Upper bound for the whole check on one device, probes included. */
  timeoutMs: number;
  platforms: Partial<Record<OsName, PlatformCheck<F>>>;
  /**
   * Optional: carries what earlier results observed into new facts (e.g. when a pending update
   * was first seen), so the evaluator can judge how long something has lasted. Pure; `previous`
   * is this check's last result as the service kept it, if any.
   */
  remember?(facts: F, previous: CheckResult | undefined, now: Date): F;
  evaluate(facts: F, policy: Policy, context: EvaluationContext): Verdict;
}

/** Declares a check; the identity function, present for inference and readability. */
export function defineCheck<F extends Facts>(check: CheckDefinition<F>): CheckDefinition<F> {
  return check;
}

/** Exhaustiveness guard for `switch` statements over closed unions. */
export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(value)}`);
}
