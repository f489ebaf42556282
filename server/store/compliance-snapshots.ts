// Daily compliance snapshots: the counts of the overview, kept per UTC day for the trust, each
// school and each check, so the dashboard can draw trends. Every server instance runs the job
// (server/main.ts); an advisory lock lets one of them take the day's snapshot and the primary key
// turns any other insert for that day into a no-op, so running it on many instances is safe.
import type { StatusCounts, Trend, TrendScope } from '../../shared/index.ts';
import type { Database, Queryable } from '../db/db.ts';
import { complianceSummary } from './compliance-summary.ts';
import { DAY_MS } from './read-values.ts';

/** How long snapshots are kept: over two years, so a year-on-year view always has its year. */
export const SNAPSHOT_RETENTION_DAYS = 800;

// Any constant: the first half of the two-integer advisory lock key, so these locks never meet
// the migration's or sign-in throttle's locks.
const SNAPSHOT_LOCK_SPACE = 0x736e6170; // "snap"

/** The UTC day of an instant, as YYYY-MM-DD. */
export const utcDay = (at: Date): string => at.toISOString().slice(0, 10);

interface SnapshotRow {
  scope: TrendScope;
  scopeId: string;
  counts: StatusCounts;
}

/**
 * Takes today's (UTC) snapshot unless one exists; prunes days past the retention. Returns how
 * many rows it wrote (0 when another instance, or an earlier run, already took it).
 */
export async function takeDailySnapshot(db: Database, now: Date): Promise<number> {
  const day = utcDay(now);
  const taken = async (q: Queryable) =>
    (
      await q.query<{ n: number }>(
        `select count(*)::int as n from compliance_snapshots
          where scope = 'trust' and scope_id = '' and day = $1`,
        [day],
      )
    )[0]?.n === 1;
  // Cheap and lock-free on every run but the first of the day.
  if (await taken(db)) {
    return 0;
  }
  return db.transaction(async (tx) => {
    // Instances that start the job at once queue here; the later ones find the day taken.
    await tx.query('select pg_advisory_xact_lock($1, $2)', [
      SNAPSHOT_LOCK_SPACE,
      Math.floor(now.getTime() / DAY_MS),
    ]);
    if (await taken(tx)) {
      return 0;
    }
    const summary = await complianceSummary(tx, 7, now);
    const rows: SnapshotRow[] = [
      { scope: 'trust', scopeId: '', counts: summary.overall },
      ...summary.bySchool.map((s) => ({
        scope: 'school' as const,
        scopeId: s.schoolId,
        counts: s.counts,
      })),
      ...summary.byCheck.map((c) => ({
        scope: 'check' as const,
        scopeId: c.checkId,
        counts: c.counts,
      })),
    ];
    const inserted = await tx.query<{ scope: string }>(
      `insert into compliance_snapshots (scope, scope_id, day, pass, fail, warn, unknown, none)
       select r.scope, r.scope_id, $1::date, r.pass, r.fail, r.warn, r.unknown, r.none
         from jsonb_to_recordset($2::jsonb)
           as r(scope text, scope_id text, pass int, fail int, warn int, unknown int, none int)
       on conflict do nothing
       returning scope`,
      [
        day,
        JSON.stringify(rows.map((r) => ({ scope: r.scope, scope_id: r.scopeId, ...r.counts }))),
      ],
    );
    await tx.query(`delete from compliance_snapshots where day < $1::date - $2::int`, [
      day,
      SNAPSHOT_RETENTION_DAYS,
    ]);
    return inserted.length;
  });
}

/** The daily counts of one scope over the last `days` days, oldest first. */
export async function complianceTrend(
  db: Queryable,
  scope: TrendScope,
  id: string | null,
  days: number,
  now: Date,
): Promise<Trend> {
  const rows = await db.query<StatusCounts & { day: string }>(
    `select to_char(day, 'YYYY-MM-DD') as day, pass, fail, warn, unknown, none
       from compliance_snapshots
      where scope = $1 and scope_id = $2 and day > $3::date - $4::int
      order by day`,
    [scope, id ?? '', utcDay(now), days],
  );
  return {
    scope,
    id,
    days: rows.map(({ day, pass, fail, warn, unknown, none }) => ({
      day,
      counts: { pass, fail, warn, unknown, none },
    })),
  };
}
