// The governors' report as data: the period, the rates as the pages work them out, worst-first
// orders, the trend cut to the period with each month's last figure, and the stale devices named.
import { describe, expect, it } from 'vitest';
import type { ComplianceSummary, SchoolPage, StatusCounts } from '../../../shared/index.ts';
import {
  compliantRate,
  OLDEST_STALE_LISTED,
  reportPeriod,
  schoolReport,
  shownRate,
  TRUST_TITLE,
  trustReport,
} from '../../../server/reports/governors-report.ts';

const NOW = new Date('2026-12-05T14:30:00Z');

const counts = (pass: number, fail: number, none = 0, warn = 0, unknown = 0): StatusCounts => ({
  pass,
  fail,
  warn,
  unknown,
  none,
});

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

const summary: ComplianceSummary = {
  generatedAt: NOW.toISOString(),
  devices: 40,
  overall: counts(25, 10, 3, 1, 1),
  staleDays: 7,
  stale: 4,
  byCheck: [
    { checkId: 'antivirus', counts: counts(30, 5, 5) },
    { checkId: 'disk-encryption', counts: counts(20, 15, 5) },
    { checkId: 'firewall', counts: counts(30, 8, 2) },
  ],
  bySchool: [
    { schoolId: id(1), school: 'Northgate Primary', counts: counts(18, 2), stale: 1 },
    { schoolId: id(2), school: 'Southfield Academy', counts: counts(6, 6, 3, 1, 1), stale: 3 },
    { schoolId: id(3), school: 'Empty School', counts: counts(0, 0), stale: 0 },
    { schoolId: id(4), school: 'Eastbrook', counts: counts(1, 1), stale: 0 },
  ],
  byGroup: [],
};

describe('the report period', () => {
  it('is the last `days` UTC days, today included, as the trends read them', () => {
    expect(reportPeriod(30, NOW)).toEqual({ days: 30, from: '2026-11-06', to: '2026-12-05' });
    expect(reportPeriod(1, NOW)).toEqual({ days: 1, from: '2026-12-05', to: '2026-12-05' });
    expect(reportPeriod(400, NOW).from).toBe('2025-11-01');
  });
});

describe('rates', () => {
  it.each([
    [counts(1, 2), 33.3, '33.3 %'],
    [counts(2, 1), 66.7, '66.7 %'],
    [counts(5, 0, 5), 50, '50 %'],
    [counts(1234, 0), 100, '100 %'],
    [counts(0, 0), null, '–'],
  ])('%j is %s compliant, printed %s', (given, rate, shown) => {
    expect(compliantRate(given)).toBe(rate);
    expect(shownRate(rate)).toBe(shown);
  });
});

describe("the trust's report", () => {
  const trend = {
    scope: 'trust' as const,
    id: null,
    days: [
      // Before the period: left out.
      { day: '2026-11-05', counts: counts(1, 9) },
      { day: '2026-11-06', counts: counts(5, 5) },
      { day: '2026-11-30', counts: counts(6, 4) },
      { day: '2026-12-01', counts: counts(0, 0) },
      { day: '2026-12-04', counts: counts(8, 2) },
    ],
  };
  const quiet = [
    ...Array.from({ length: OLDEST_STALE_LISTED + 2 }, (_, i) => ({
      hostname: `old-${String(i)}`,
      school: 'Southfield Academy',
      lastSeenAt: i === 0 ? null : '2026-10-01T09:00:00.000Z',
      enrolledAt: '2026-09-01T09:00:00.000Z',
      stale: true,
    })),
  ];
  const report = trustReport({ summary, trend, quiet, days: 30, now: NOW });

  it('heads with the trust, the period and the headline figures of the summary', () => {
    expect(report.title).toBe(TRUST_TITLE);
    expect(report.period).toEqual({ days: 30, from: '2026-11-06', to: '2026-12-05' });
    expect(report.generatedAt).toBe(NOW.toISOString());
    expect(report.headline).toEqual({
      devices: 40,
      compliant: 62.5,
      failing: 10,
      stale: 4,
      staleDays: 7,
      neverReported: 3,
    });
  });

  it('names checks in words, worst first', () => {
    expect(report.checks).toEqual([
      { name: 'Disk encryption', compliant: 50, failing: 15, noResult: 5 },
      { name: 'Firewall', compliant: 75, failing: 8, noResult: 2 },
      { name: 'Anti-virus', compliant: 75, failing: 5, noResult: 5 },
    ]);
  });

  it('ranks schools worst first; a school without devices last', () => {
    expect(report.schools?.map((s) => [s.name, s.compliant])).toEqual([
      ['Southfield Academy', 35.3],
      ['Eastbrook', 50],
      ['Northgate Primary', 90],
      ['Empty School', null],
    ]);
    expect(report.schools?.[0]).toEqual({
      name: 'Southfield Academy',
      devices: 17,
      compliant: 35.3,
      failing: 6,
      stale: 3,
      neverReported: 3,
    });
  });

  it('keeps the days of the period, and the last figure of each month', () => {
    expect(report.trend).toEqual([
      { day: '2026-11-06', compliant: 50, devices: 10 },
      { day: '2026-11-30', compliant: 60, devices: 10 },
      { day: '2026-12-01', compliant: null, devices: 0 },
      { day: '2026-12-04', compliant: 80, devices: 10 },
    ]);
    expect(report.months).toEqual([
      { month: 'November 2026', day: '2026-11-30', compliant: 60, devices: 10 },
      { month: 'December 2026', day: '2026-12-04', compliant: 80, devices: 10 },
    ]);
  });

  it('names the oldest few stale devices with their school and last contact', () => {
    expect(report.oldestStale).toHaveLength(OLDEST_STALE_LISTED);
    expect(report.oldestStale[0]).toEqual({
      hostname: 'old-0',
      school: 'Southfield Academy',
      lastSeen: null,
      enrolled: '2026-09-01',
    });
    expect(report.oldestStale[1]?.lastSeen).toBe('2026-10-01');
  });
});

describe("a school's report", () => {
  const page: SchoolPage = {
    generatedAt: NOW.toISOString(),
    school: { id: id(2), name: 'Southfield Academy' },
    devices: 4,
    overall: counts(1, 1, 2),
    byCheck: [{ checkId: 'os-updates', counts: counts(2, 1, 1) }],
    staleDays: 7,
    stale: 1,
    neverReported: 2,
    quiet: [
      {
        id: id(10),
        hostname: 'sf-lab-01',
        group: 'Pupil laptops',
        enrolledAt: '2026-08-01T09:00:00.000Z',
        lastSeenAt: '2026-11-20T08:00:00.000Z',
        stale: true,
        neverReported: false,
      },
      {
        id: id(11),
        hostname: 'sf-new-01',
        group: 'Pupil laptops',
        enrolledAt: '2026-12-05T09:00:00.000Z',
        lastSeenAt: null,
        stale: false,
        neverReported: true,
      },
    ],
    quietLimit: 200,
    trend: {
      scope: 'school',
      id: id(2),
      days: [
        { day: '2026-12-03', counts: counts(1, 3) },
        { day: '2026-12-04', counts: counts(1, 1, 2) },
      ],
    },
    failures: { total: 0, items: [] },
    failuresLimit: 10,
  };

  it('heads with the school, lists no schools, and names only stale devices', () => {
    const report = schoolReport({ page, days: 2, now: NOW });
    expect(report.title).toBe('Southfield Academy');
    expect(report.scope).toBe('school');
    expect(report.schools).toBeNull();
    expect(report.headline).toEqual({
      devices: 4,
      compliant: 25,
      failing: 1,
      stale: 1,
      staleDays: 7,
      neverReported: 2,
    });
    expect(report.checks).toEqual([{ name: 'OS updates', compliant: 50, failing: 1, noResult: 1 }]);
    // Two days: yesterday and today; the 3rd is before the period.
    expect(report.trend.map((p) => p.day)).toEqual(['2026-12-04']);
    expect(report.oldestStale).toEqual([
      { hostname: 'sf-lab-01', school: null, lastSeen: '2026-11-20', enrolled: '2026-08-01' },
    ]);
  });
});
