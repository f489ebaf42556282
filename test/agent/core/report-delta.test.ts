// Reports as deltas, the device's side: what a delta carries, when reports must go in full, and
// which base the server's answer leaves.
import { describe, expect, it } from 'vitest';
import {
  baseAfterAccepted,
  deltaFrom,
  FULL_REPORT_EVERY_MS,
  planDeltas,
  reportDigest,
  type ReportBase,
} from '../../../agent/core/report-delta.ts';
import { reportDigest as serverDigest } from '../../../server/store/ingest.ts';
import { report, result, sampleFacts } from '../../helpers/device-client.ts';

const facts = sampleFacts();
const at = (minutes: number) => new Date(Date.parse('2026-12-01T08:40:00Z') + minutes * 60_000);
const passing = (minutes: number) =>
  report(
    facts,
    [result('firewall', 'pass', at(minutes)), result('disk-encryption', 'pass', at(minutes))],
    at(minutes),
  );
const baseOf = (r: ReturnType<typeof passing>, fullAt = at(0).getTime()): ReportBase => ({
  report: r,
  digest: reportDigest(r),
  fullAt,
});

describe('reportDigest', () => {
  it('is the server’s digest of the same report as parsed from the request', () => {
    const r = {
      ...passing(0),
      results: [{ ...result('firewall', 'pass'), remediation: undefined }],
    };
    expect(reportDigest(r)).toMatch(/^[0-9a-f]{64}$/);
    expect(serverDigest(JSON.parse(JSON.stringify(r)) as typeof r)).toBe(reportDigest(r));
  });
});

describe('deltaFrom', () => {
  it('carries no results when only the measured times moved', () => {
    const first = passing(0);
    const next = passing(15);
    expect(deltaFrom(first, reportDigest(first), next)).toEqual({
      id: next.id,
      createdAt: next.createdAt,
      base: reportDigest(first),
      digest: reportDigest(next),
      overall: 'pass',
      results: [],
    });
  });

  it('carries each result that changed in status, summary or evidence, in full', () => {
    const first = passing(0);
    const failing = result('firewall', 'fail', at(15));
    const evidence = { ...result('disk-encryption', 'pass', at(15)), evidence: { volumes: 2 } };
    const next = report(facts, [failing, evidence], at(15));
    expect(deltaFrom(first, reportDigest(first), next)?.results).toEqual([failing, evidence]);
    const added = report(facts, [...passing(15).results, result('antivirus', 'warn', at(15))]);
    expect(deltaFrom(first, reportDigest(first), added)?.results.map((r) => r.checkId)).toEqual([
      'antivirus',
    ]);
  });

  it('cannot express new facts, a new policy or a result gone: those go in full', () => {
    const first = passing(0);
    const digest = reportDigest(first);
    const renamed = report({ ...facts, hostname: 'renamed' }, passing(15).results, at(15));
    const newPolicy = { ...passing(15), policy: { name: 'Pupil laptops', version: 2 } };
    const fewer = report(facts, [result('firewall', 'pass', at(15))], at(15));
    for (const next of [renamed, newPolicy, fewer]) {
      expect(deltaFrom(first, digest, next)).toBeNull();
    }
  });
});

describe('planDeltas', () => {
  it('chains a batch’s reports, each from the one before', () => {
    const first = passing(0);
    const [a, b] = [passing(15), passing(30)];
    const chain = planDeltas(baseOf(first), [a, b], at(30).getTime());
    expect(chain?.map((d) => [d.base, d.digest])).toEqual([
      [reportDigest(first), reportDigest(a)],
      [reportDigest(a), reportDigest(b)],
    ]);
  });

  it('goes in full without a base, once the base’s full report is a day old, or when one report cannot be a delta', () => {
    const first = passing(0);
    expect(planDeltas(null, [passing(15)], at(15).getTime())).toBeNull();
    const dayLater = at(0).getTime() + FULL_REPORT_EVERY_MS;
    expect(planDeltas(baseOf(first), [passing(15)], dayLater - 1)).not.toBeNull();
    expect(planDeltas(baseOf(first), [passing(15)], dayLater)).toBeNull();
    const renamed = report({ ...facts, hostname: 'renamed' }, passing(30).results, at(30));
    expect(planDeltas(baseOf(first), [passing(15), renamed], at(30).getTime())).toBeNull();
  });
});

describe('baseAfterAccepted', () => {
  const now = at(60).getTime();
  it('takes the newest full report the server names as held, and keeps the chain’s full time for deltas', () => {
    const [older, newer] = [passing(15), passing(30)];
    const full = baseAfterAccepted({
      base: null,
      reports: [newer, older],
      acceptedIds: [older.id, newer.id],
      asDeltas: false,
      heldDigest: reportDigest(newer),
      nowMs: now,
    });
    expect(full).toEqual({ report: newer, digest: reportDigest(newer), fullAt: now });
    const next = passing(45);
    expect(
      baseAfterAccepted({
        base: full,
        reports: [next],
        acceptedIds: [next.id],
        asDeltas: true,
        heldDigest: reportDigest(next),
        nowMs: now + 1,
      }),
    ).toEqual({ report: next, digest: reportDigest(next), fullAt: now });
  });

  it('drops the base when the server names another digest, none, or did not take every report', () => {
    const base = baseOf(passing(0));
    const next = passing(15);
    const cases = [
      { heldDigest: reportDigest(passing(15)), acceptedIds: [next.id] },
      { heldDigest: null, acceptedIds: [next.id] },
      { heldDigest: reportDigest(next), acceptedIds: [] },
    ];
    for (const c of cases) {
      expect(
        baseAfterAccepted({ base, reports: [next], asDeltas: true, nowMs: now, ...c }),
      ).toBeNull();
    }
    // A batch of events only keeps the base while the server still holds it.
    const events = { base, reports: [], acceptedIds: [], asDeltas: false, nowMs: now };
    expect(baseAfterAccepted({ ...events, heldDigest: base.digest })).toBe(base);
    expect(baseAfterAccepted({ ...events, heldDigest: reportDigest(next) })).toBeNull();
  });
});
