// The ICT overview's compliance counts. Set-based SQL only: meant to stay well under 100 ms with
// 100,000 devices (bench/queries.bench.ts).
import type { CheckId, CheckStatus, ComplianceSummary, StatusCounts } from '../../shared/index.ts';
import type { Queryable } from '../db/db.ts';
import { DAY_MS } from './read-values.ts';

const emptyCounts = (): StatusCounts => ({ pass: 0, fail: 0, warn: 0, unknown: 0, none: 0 });

/** Adds `n` devices of `status` (null: never reported) to `counts`. */
function add(counts: StatusCounts, status: CheckStatus | null, n: number): void {
  counts[status ?? 'none'] += n;
}

/** Compliance counts over active (not retired) devices: overall, per check, school and group. */
export async function complianceSummary(
  db: Queryable,
  staleDays: number,
  now: Date,
): Promise<ComplianceSummary> {
  const staleBefore = new Date(now.getTime() - staleDays * DAY_MS);
  // One pass over the devices_summary index (no table access) gives the overall, per-school and
  // stale counts together; schools are joined to the few aggregated rows afterwards.
  const bySchoolRows = db.query<{
    school_id: string;
    school: string;
    status: CheckStatus | null;
    n: number;
    stale: number;
  }>(
    `select s.id as school_id, s.name as school, c.status, coalesce(c.n, 0) as n,
            coalesce(c.stale, 0) as stale
       from schools s
       left join (
         select school_id, overall_status as status, count(*)::int as n,
                (count(*) filter (where coalesce(last_seen_at, enrolled_at) < $1))::int as stale
           from devices where retired_at is null
          group by school_id, overall_status
       ) c on c.school_id = s.id
      order by s.name, s.id`,
    [staleBefore],
  );
  // Per check: count every state row through the (check_id, status) index, then take away the
  // rows of retired devices (few, found through their partial index) instead of joining all
  // 100,000 devices to their check rows.
  const byCheckRows = db.query<{ check_id: CheckId; status: CheckStatus; n: number }>(
    `with everyone as (
       select check_id, status, count(*)::int as n from check_states group by check_id, status
     ), retired as (
       select c.check_id, c.status, count(*)::int as n
         from devices d join check_states c on c.device_id = d.id
        where d.retired_at is not null
        group by c.check_id, c.status
     )
     select e.check_id, e.status, e.n - coalesce(r.n, 0) as n
       from everyone e left join retired r on r.check_id = e.check_id and r.status = e.status
      order by e.check_id`,
  );
  // Per device group: the same counts from one scan of the active devices (groups are few).
  const byGroupRows = db.query<{
    group_id: string;
    group_name: string;
    status: CheckStatus | null;
    n: number;
    stale: number;
  }>(
    `select g.id as group_id, g.name as group_name, c.status, coalesce(c.n, 0) as n,
            coalesce(c.stale, 0) as stale
       from device_groups g
       join (
         select group_id, overall_status as status, count(*)::int as n,
                (count(*) filter (where coalesce(last_seen_at, enrolled_at) < $1))::int as stale
           from devices where retired_at is null
          group by group_id, overall_status
       ) c on c.group_id = g.id
      order by g.name, g.id`,
    [staleBefore],
  );
  const [schools, checks, groups] = await Promise.all([bySchoolRows, byCheckRows, byGroupRows]);

  const overall = emptyCounts();
  const bySchool = new Map<string, ComplianceSummary['bySchool'][number]>();
  let devices = 0;
  let stale = 0;
  for (const row of schools) {
    add(overall, row.status, row.n);
    devices += row.n;
    stale += row.stale;
    let school = bySchool.get(row.school_id);
    if (school === undefined) {
      school = { schoolId: row.school_id, school: row.school, counts: emptyCounts(), stale: 0 };
      bySchool.set(row.school_id, school);
    }
    add(school.counts, row.status, row.n);
    school.stale += row.stale;
  }
  const byGroup = new Map<string, ComplianceSummary['byGroup'][number]>();
  for (const row of groups) {
    let group = byGroup.get(row.group_id);
    if (group === undefined) {
      group = { groupId: row.group_id, group: row.group_name, counts: emptyCounts(), stale: 0 };
      byGroup.set(row.group_id, group);
    }
    add(group.counts, row.status, row.n);
    group.stale += row.stale;
  }
  const byCheck = new Map<CheckId, StatusCounts>();
  for (const row of checks) {
    let counts = byCheck.get(row.check_id);
    if (counts === undefined) {
      counts = emptyCounts();
      byCheck.set(row.check_id, counts);
    }
    add(counts, row.status, row.n);
  }
  return {
    generatedAt: now.toISOString(),
    devices,
    overall,
    staleDays,
    stale,
    byCheck: [...byCheck].flatMap(([checkId, counts]) => {
      const reported = counts.pass + counts.fail + counts.warn + counts.unknown;
      // A check with only retired devices' rows left is not part of the fleet's picture.
      return reported === 0 ? [] : [{ checkId, counts: { ...counts, none: devices - reported } }];
    }),
    bySchool: [...bySchool.values()],
    byGroup: [...byGroup.values()],
  };
}
