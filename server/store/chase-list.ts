// The chase list: active devices with at least one failing check, longest-failing first, with
// when each check turned to fail, the last user an event named and the last contact. The page
// sorts, shows and exports what this returns.
import type { ChaseItem, ChaseList, CheckId, CheckStatus } from '../../shared/index.ts';
import type { Queryable } from '../db/db.ts';
import { iso, isoRequired } from './read-values.ts';

interface Row {
  id: string;
  hostname: string;
  school_id: string;
  school: string;
  group_name: string;
  last_seen_at: Date | null;
  since: Date;
  checks: { checkId: CheckId; status: CheckStatus; since: string | null }[];
  last_user: string | null;
  total: number;
}

/** Failing devices of the trust, or of one school, longest-failing first. */
export async function chaseList(
  db: Queryable,
  options: { schoolId?: string; limit: number },
): Promise<ChaseList> {
  // "Failing since" is check_states.changed_at: ingest sets it to the time the current status
  // began, from the same status changes it writes to check_changes, and it outlives the history
  // retention that purges those. Failing check rows come from the partial check_states_failing
  // index (migration 016), which carries changed_at; only the first `limit` devices then get their
  // other checks, school, group and last user. Retired devices are left out by the few retired
  // ones, not by joining every active device: with 100,000 devices that join, and looking each
  // failure up in check_changes, were most of the time (bench/queries.bench.ts).
  const rows = await db.query<Row>(
    `with failing as (
       select c.device_id, min(c.changed_at) as since
         from check_states c
        where c.status = 'fail'
          and not exists (select from devices r
                           where r.id = c.device_id and r.retired_at is not null)
          and ($1::uuid is null
               or c.device_id in (select s.id from devices s where s.school_id = $1::uuid))
        group by c.device_id
     ), page as (
       select f.*, count(*) over ()::int as total from failing f
        order by f.since, f.device_id limit $2
     )
     select d.id, d.hostname, d.school_id, s.name as school, g.name as group_name,
            d.last_seen_at, p.since, p.total,
            (select jsonb_agg(jsonb_build_object(
                      'checkId', c.check_id, 'status', c.status,
                      'since', case when c.status = 'fail' then c.changed_at end)
                    order by c.check_id)
               from check_states c where c.device_id = d.id) as checks,
            (select e.data->>'user' from events e
              where e.device_id = d.id and e.data->>'user' is not null
              order by e.occurred_at desc limit 1) as last_user
       from page p
       join devices d on d.id = p.device_id
       join schools s on s.id = d.school_id
       join device_groups g on g.id = d.group_id
      order by p.since, p.device_id`,
    [options.schoolId ?? null, options.limit],
  );
  const items: ChaseItem[] = rows.map((row) => ({
    id: row.id,
    hostname: row.hostname,
    schoolId: row.school_id,
    school: row.school,
    group: row.group_name,
    checks: row.checks.map(({ checkId, status }) => ({ checkId, status })),
    failing: row.checks.flatMap((c) =>
      c.status === 'fail' && c.since !== null
        ? [{ checkId: c.checkId, since: isoRequired(new Date(c.since)) }]
        : [],
    ),
    lastUser: row.last_user,
    lastSeenAt: iso(row.last_seen_at),
  }));
  return { total: rows[0]?.total ?? 0, items };
}
