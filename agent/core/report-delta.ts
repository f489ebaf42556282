// Reports as deltas (issue 18): once the server says it holds the device's last report (by its
// digest), the next reports travel as what changed since, and an unchanged report as almost
// nothing. The outbox keeps full reports throughout; a delta is only the wire form of one, made at
// send time, so whatever the server answers, the full report is still there to send instead.
import { createHash } from 'node:crypto';
import {
  canonicalJson,
  type CheckResult,
  type ComplianceReport,
  type ReportDelta,
} from '../../shared/index.ts';

/**
 * How often a full report goes anyway, whatever the deltas: 24 hours. It refreshes what deltas do
 * not carry (each unchanged check's measured time, shown on the device page) and bounds how long
 * server and device could disagree unseen; at 96 reports a day it is one full report in 96, so
 * it costs about 1 % of what full reports every time did. A device that restarts (most school
 * laptops, daily) also starts with a full report: the base is held in memory only.
 */
export const FULL_REPORT_EVERY_MS = 24 * 3_600_000;

/** The digest of a report: SHA-256 of its canonical JSON, lower-case hex (the server's too). */
export function reportDigest(report: ComplianceReport): string {
  return createHash('sha256').update(canonicalJson(report), 'utf8').digest('hex');
}

/** The last report the server said it holds, and when a full report last went. */
export interface ReportBase {
  report: ComplianceReport;
  digest: string;
  /** Epoch ms of the full report that began this base's chain. */
  fullAt: number;
}

// A result as two reports compare it: when it was measured and how long that took do not count.
function comparable(result: CheckResult): string {
  const { measuredAt: _measuredAt, durationMs: _durationMs, ...rest } = result;
  return canonicalJson(rest);
}

/**
 * `next` as a delta from `previous`, or null when it cannot be one: a change of policy or device
 * facts, or a check that `previous` had and `next` lacks (a delta cannot remove a result).
 */
export function deltaFrom(
  previous: ComplianceReport,
  previousDigest: string,
  next: ComplianceReport,
): ReportDelta | null {
  if (
    canonicalJson(previous.policy) !== canonicalJson(next.policy) ||
    canonicalJson(previous.device) !== canonicalJson(next.device)
  ) {
    return null;
  }
  const before = new Map(previous.results.map((r) => [r.checkId, comparable(r)]));
  const after = new Set(next.results.map((r) => r.checkId));
  if ([...before.keys()].some((checkId) => !after.has(checkId))) {
    return null;
  }
  return {
    id: next.id,
    createdAt: next.createdAt,
    base: previousDigest,
    digest: reportDigest(next),
    overall: next.overall,
    results: next.results.filter((r) => before.get(r.checkId) !== comparable(r)),
  };
}

/**
 * The reports of a batch (in outbox order) as a chain of deltas from `base`, or null when they
 * must go in full: no base, the base's full report is `fullEveryMs` old, or one report cannot be
 * a delta.
 */
export function planDeltas(
  base: ReportBase | null,
  reports: readonly ComplianceReport[],
  nowMs: number,
  fullEveryMs = FULL_REPORT_EVERY_MS,
): ReportDelta[] | null {
  if (base === null || reports.length === 0 || nowMs - base.fullAt >= fullEveryMs) {
    return null;
  }
  const deltas: ReportDelta[] = [];
  let previous = base.report;
  let previousDigest = base.digest;
  for (const report of reports) {
    const delta = deltaFrom(previous, previousDigest, report);
    if (delta === null) {
      return null;
    }
    deltas.push(delta);
    previous = report;
    previousDigest = delta.digest;
  }
  return deltas;
}

/** The report a full batch leaves as the device's last on the server: newest, as the server picks. */
export function newestReport(reports: readonly ComplianceReport[]): ComplianceReport | undefined {
  return reports.reduce<ComplianceReport | undefined>((newest, report) => {
    if (newest === undefined) {
      return report;
    }
    const time = Date.parse(report.createdAt) - Date.parse(newest.createdAt);
    return time > 0 || (time === 0 && report.id.toLowerCase() > newest.id.toLowerCase())
      ? report
      : newest;
  }, undefined);
}

/**
 * The base after the server accepted a batch: the batch's last report (or, for a batch without
 * reports, the base as it was) when the digest the server named is that report's; otherwise none,
 * and the next reports go in full. `asDeltas`: the batch went as deltas, so the chain's full
 * report is still the one it began with.
 */
export function baseAfterAccepted(options: {
  base: ReportBase | null;
  reports: readonly ComplianceReport[];
  acceptedIds: readonly string[];
  asDeltas: boolean;
  heldDigest: string | null;
  nowMs: number;
}): ReportBase | null {
  const { base, reports, heldDigest } = options;
  if (heldDigest === null) {
    return null;
  }
  const accepted = new Set(options.acceptedIds.map((id) => id.toLowerCase()));
  if (reports.some((r) => !accepted.has(r.id.toLowerCase()))) {
    return null;
  }
  const last = options.asDeltas ? reports.at(-1) : newestReport(reports);
  if (last === undefined) {
    return base !== null && base.digest === heldDigest ? base : null;
  }
  const digest = reportDigest(last);
  if (digest !== heldDigest) {
    return null;
  }
  const fullAt = options.asDeltas && base !== null ? base.fullAt : options.nowMs;
  return { report: last, digest, fullAt };
}
