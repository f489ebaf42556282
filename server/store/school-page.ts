// One school's page (issue 16): its compliance per check, its daily trend, its quiet devices and
// its oldest current failures. The trend, the quiet devices and the failures are the trends', the
// quiet devices' and the chase list's own queries with the school as their filter, so each figure
// is computed in one place only.
import type {
  CheckId,
  CheckStatus,
  QuietDevice,
  SchoolPage,
  StatusCounts,
} from '../../shared/index.ts';
import type { Queryable } from '../db/db.ts';
import { chaseList } from './chase-list.ts';
import { complianceTrend } from './compliance-snapshots.ts';
import { quietDevices } from './quiet-devices.ts';
import { DAY_MS } from './read-values.ts';

/** Most quiet devices the page lists; the counts above the list are always complete. */
export const QUIET_LIMIT = 200;
/** Failing devices the page lists; the chase list holds the rest. */
export const FAILURES_LIMIT = 10;
/** Days of trend: the same window as the overview's. */
export const TREND_DAYS = 400;

const emptyCounts = (): StatusCounts => ({ pass: 0, fail: 0, warn: 0, unknown: 0, none: 0 });

/** The page of school `schoolId`, or null when there is no such school. */
export async function schoolPage(
  db: Queryable,
  schoolId: string,
  staleDays: number,
  now: Date,
): Promise<SchoolPage | null> {
  const [school] = await db.query<{ id: string; name: string }>(
    'select id, name from schools where id = $1',
    [schoolId],
  );
  if (school === undefined) {
    return null;
  }
  const staleBefore = new Date(now.getTime() - staleDays * DAY_MS);
  // Overall and stale counts from the devices_summary index (school_id first), as the overview's.
  const overallRows = db.query<{ status: CheckStatus | null; n: number; stale: number }>(
    `select overall_status as status, count(*)::int as n,
            (count(*) filter (where coalesce(last_seen_at, enrolled_at) < $2))::int as stale
       from devices where school_id = $1 and retired_at is null
      group by overall_status`,
    [schoolId, staleBefore],
  );
  const byCheckRows = db.query<{ check_id: CheckId; status: CheckStatus; n: number }>(
    `select c.check_id, c.status, count(*)::int as n
       from devices d join check_states c on c.device_id = d.id
      where d.school_id = $1 and d.retired_at is null
      group by c.check_id, c.status
      order by c.check_id`,
    [schoolId],
  );
  const [overallCounts, checks, quiet, trend, failures] = await Promise.all([
    overallRows,
    byCheckRows,
    quietDevices(db, { schoolId, staleDays, limit: QUIET_LIMIT }, now),
    complianceTrend(db, 'school', schoolId, TREND_DAYS, now),
    chaseList(db, { schoolId, limit: FAILURES_LIMIT }),
  ]);

  const overall = emptyCounts();
  let devices = 0;
  let stale = 0;
  for (const row of overallCounts) {
    overall[row.status ?? 'none'] += row.n;
    devices += row.n;
    stale += row.stale;
  }
  const byCheck = new Map<CheckId, StatusCounts>();
  for (const row of checks) {
    const counts = byCheck.get(row.check_id) ?? emptyCounts();
    counts[row.status] += row.n;
    byCheck.set(row.check_id, counts);
  }
  return {
    generatedAt: now.toISOString(),
    school,
    devices,
    overall,
    byCheck: [...byCheck].map(([checkId, counts]) => ({
      checkId,
      // Devices with no result for this check, as the overview counts them.
      counts: {
        ...counts,
        none: devices - (counts.pass + counts.fail + counts.warn + counts.unknown),
      },
    })),
    staleDays,
    stale,
    neverReported: overall.none,
    quiet: quiet.map((row): QuietDevice => ({
      id: row.id,
      hostname: row.hostname,
      group: row.group,
      enrolledAt: row.enrolledAt,
      lastSeenAt: row.lastSeenAt,
      stale: row.stale,
      neverReported: row.neverReported,
    })),
    quietLimit: QUIET_LIMIT,
    trend,
    failures,
    failuresLimit: FAILURES_LIMIT,
  };
}
