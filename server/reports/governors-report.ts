// The governors' summary as plain data: the figures the PDF prints, shaped from what the
// dashboard's own queries return (the overview's summary, the school page, the daily snapshots
// and the quiet devices), in words a governor reads. No I/O and no drawing, so every figure can be
// checked on its own (test/server/reports/governors-report.test.ts); governors-pdf.ts draws it.
import { CHECK_NAMES } from '../../shared/check-names.ts';
import type {
  ComplianceSummary,
  QuietDevice,
  SchoolPage,
  StatusCounts,
  Trend,
} from '../../shared/index.ts';

/** Days the report covers when the request does not say. */
export const DEFAULT_REPORT_DAYS = 30;
/** Most days a report covers: the dashboard's own trend window. */
export const MAX_REPORT_DAYS = 400;
/** Devices silent for longer than this count as stale: the pages' default. */
export const REPORT_STALE_DAYS = 7;
/** How many of the longest-silent devices the report names. */
export const OLDEST_STALE_LISTED = 10;

const DAY_MS = 86_400_000;

/** The days a report covers, both ends included, as UTC dates (YYYY-MM-DD). */
export interface ReportPeriod {
  days: number;
  from: string;
  to: string;
}

/** A check's line: how many devices pass it, fail it or have no result for it. */
export interface CheckLine {
  name: string;
  /** % of all enrolled devices that pass, to one decimal; null with no devices. */
  compliant: number | null;
  failing: number;
  noResult: number;
}

/** A school's line in the trust's ranking. */
export interface SchoolLine {
  name: string;
  devices: number;
  compliant: number | null;
  failing: number;
  stale: number;
  neverReported: number;
}

/** One day of the trend. */
export interface TrendPoint {
  day: string;
  compliant: number | null;
  devices: number;
}

/** The last day with figures in a calendar month of the period. */
export interface MonthLine {
  /** "December 2026". */
  month: string;
  day: string;
  compliant: number | null;
  devices: number;
}

/** A stale device, named by hostname. */
export interface StaleLine {
  hostname: string;
  /** The school, on the trust's report; null on a school's own. */
  school: string | null;
  /** Its last contact (YYYY-MM-DD), or null when it never reported after enrolling. */
  lastSeen: string | null;
  /** Its enrolment (YYYY-MM-DD). */
  enrolled: string;
}

/** Everything the governors' PDF prints. */
export interface GovernorsReport {
  /** The school's name, or the trust's heading. */
  title: string;
  scope: 'trust' | 'school';
  period: ReportPeriod;
  /** When the figures were counted (ISO 8601). */
  generatedAt: string;
  headline: {
    devices: number;
    compliant: number | null;
    failing: number;
    stale: number;
    staleDays: number;
    neverReported: number;
  };
  /** Every check, worst (lowest % compliant) first. */
  checks: CheckLine[];
  /** Daily figures inside the period, oldest first. */
  trend: TrendPoint[];
  /** The trend's last figure of each month, oldest first. */
  months: MonthLine[];
  /** The trust's schools, worst first; null on a school's report. */
  schools: SchoolLine[] | null;
  /** The oldest few stale devices, longest silent first (the count is the headline's). */
  oldestStale: StaleLine[];
}

/** What the trust's report is made from. */
export interface TrustReportInput {
  summary: ComplianceSummary;
  trend: Trend;
  /** Quiet devices of the trust, longest silent first (quiet-devices.ts). */
  quiet: readonly (Pick<QuietDevice, 'hostname' | 'lastSeenAt' | 'enrolledAt' | 'stale'> & {
    school: string;
  })[];
  days: number;
  now: Date;
}

/** What a school's report is made from. */
export interface SchoolReportInput {
  page: SchoolPage;
  days: number;
  now: Date;
}

/** The trust's report is headed by this, as the overview calls it. */
export const TRUST_TITLE = 'All schools in the trust';

const utcDay = (at: Date): string => at.toISOString().slice(0, 10);

/** The `days` days up to and including today (UTC), as the trends read them. */
export function reportPeriod(days: number, now: Date): ReportPeriod {
  return { days, from: utcDay(new Date(now.getTime() - (days - 1) * DAY_MS)), to: utcDay(now) };
}

/** Every enrolled device, reported or not. */
const totalOf = (counts: StatusCounts): number =>
  counts.pass + counts.fail + counts.warn + counts.unknown + counts.none;

/** Share of all enrolled devices that passed, to one decimal, as the pages work it out. */
export function compliantRate(counts: StatusCounts): number | null {
  const total = totalOf(counts);
  return total === 0 ? null : Math.round((1000 * counts.pass) / total) / 10;
}

/** A rate as the pages print it: "92.5 %", or a dash when there is none. */
export const shownRate = (rate: number | null): string =>
  rate === null ? '–' : `${rate.toLocaleString('en-GB')} %`;

/** A count as the pages print it: "1,234". */
export const shownCount = (count: number): string => count.toLocaleString('en-GB');

/** Lower rates first; no rate (no devices) last; then more failing first; then by name. */
function worstFirst<T extends { name: string; compliant: number | null; failing: number }>(
  a: T,
  b: T,
): number {
  const rateA = a.compliant ?? Number.POSITIVE_INFINITY;
  const rateB = b.compliant ?? Number.POSITIVE_INFINITY;
  return rateA - rateB || b.failing - a.failing || a.name.localeCompare(b.name, 'en-GB');
}

function checkLines(byCheck: ComplianceSummary['byCheck']): CheckLine[] {
  return byCheck
    .map((row) => ({
      name: CHECK_NAMES[row.checkId],
      compliant: compliantRate(row.counts),
      failing: row.counts.fail,
      noResult: row.counts.none,
    }))
    .sort(worstFirst);
}

const MONTH = new Intl.DateTimeFormat('en-GB', { month: 'long', year: 'numeric', timeZone: 'UTC' });

/** The days of `trend` inside `period`, and the last of each month. */
function trendLines(trend: Trend, period: ReportPeriod): Pick<GovernorsReport, 'trend' | 'months'> {
  const points = trend.days
    .filter((d) => d.day >= period.from && d.day <= period.to)
    .map((d) => ({ day: d.day, compliant: compliantRate(d.counts), devices: totalOf(d.counts) }));
  const lastOfMonth = new Map<string, TrendPoint>();
  for (const point of points) {
    lastOfMonth.set(point.day.slice(0, 7), point);
  }
  const months = [...lastOfMonth.values()].map((point) => ({
    month: MONTH.format(new Date(`${point.day}T12:00:00Z`)),
    ...point,
  }));
  return { trend: points, months };
}

function staleLines(
  quiet: readonly (Pick<QuietDevice, 'hostname' | 'lastSeenAt' | 'enrolledAt' | 'stale'> & {
    school?: string;
  })[],
): StaleLine[] {
  // Stale devices come first in the quiet list (it is ordered by silence), never-reported but
  // recent ones after them.
  return quiet
    .filter((device) => device.stale)
    .slice(0, OLDEST_STALE_LISTED)
    .map((device) => ({
      hostname: device.hostname,
      school: device.school ?? null,
      lastSeen: device.lastSeenAt === null ? null : device.lastSeenAt.slice(0, 10),
      enrolled: device.enrolledAt.slice(0, 10),
    }));
}

/** The trust's report: every school, ranked worst first. */
export function trustReport(input: TrustReportInput): GovernorsReport {
  const { summary } = input;
  const period = reportPeriod(input.days, input.now);
  return {
    title: TRUST_TITLE,
    scope: 'trust',
    period,
    generatedAt: summary.generatedAt,
    headline: {
      devices: summary.devices,
      compliant: compliantRate(summary.overall),
      failing: summary.overall.fail,
      stale: summary.stale,
      staleDays: summary.staleDays,
      neverReported: summary.overall.none,
    },
    checks: checkLines(summary.byCheck),
    ...trendLines(input.trend, period),
    schools: summary.bySchool
      .map((row) => ({
        name: row.school,
        devices: totalOf(row.counts),
        compliant: compliantRate(row.counts),
        failing: row.counts.fail,
        stale: row.stale,
        neverReported: row.counts.none,
      }))
      .sort(worstFirst),
    oldestStale: staleLines(input.quiet),
  };
}

/** One school's report, from its page. */
export function schoolReport(input: SchoolReportInput): GovernorsReport {
  const { page } = input;
  const period = reportPeriod(input.days, input.now);
  return {
    title: page.school.name,
    scope: 'school',
    period,
    generatedAt: page.generatedAt,
    headline: {
      devices: page.devices,
      compliant: compliantRate(page.overall),
      failing: page.overall.fail,
      stale: page.stale,
      staleDays: page.staleDays,
      neverReported: page.neverReported,
    },
    checks: checkLines(page.byCheck),
    ...trendLines(page.trend, period),
    schools: null,
    oldestStale: staleLines(page.quiet),
  };
}
