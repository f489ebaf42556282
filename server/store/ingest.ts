import type { AgentEvent, ComplianceReport, ReportBatch } from '../../shared/index.ts';
import type { Queryable } from '../db/db.ts';
import { aupUserKey } from './aup-records.ts';

/**
 * The whole batch in one statement: one round trip, atomic on its own, planned once per
 * connection. Data-modifying CTEs all see the database as it was before the statement, and each
 * other only through RETURNING, so:
 * - every report of the batch is applied, and applying is idempotent without keeping report ids:
 *   a result older than the stored one changes nothing, and one as old as it changes nothing
 *   unless its status differs, so a resend (at any age) is a no-op;
 * - `stored` is each check's state before this batch; each status change, within the batch or
 *   against the stored state, is one history row; `changed_at` is when the current status began;
 * - a report is **news** when it changes a check's status (it made a history row) or, being the
 *   newest, changes the device's facts, overall status or policy version. Only news is kept raw
 *   (`reports`), unless the server keeps every report (`reportStorage: 'all'`); either way not a
 *   report created before the retention window, which the purge would delete anyway. A resend is
 *   never news, so nothing is stored twice; a raw id another device holds is not stored again;
 * - the device's contact time always moves; its facts and overall status follow the newest report
 *   unless a newer one is stored;
 * - each AUP event claimed now also becomes one typed row of the AUP register (`aup_records`), and
 *   each user an event claimed now names is marked seen at the device's school (`aup_seen_users`)
 *   and indexed by their name's key for subject access (`person_events`);
 * - accepted = every report of the batch (each is applied), plus the event ids claimed now or
 *   delivered by this same device before (a resend). An event id held for another device is never
 *   accepted: one device cannot write over another's records.
 */
/** The batch's newest report is newer than the stored one (or none is stored). */
const ADOPT =
  '(n.created_at is not null and (d.last_report_at is null or d.last_report_at <= n.created_at))';

const INGEST_SQL = `
with batch as (
  select * from unnest($3::uuid[], $4::timestamptz[], $5::jsonb[]) as t(id, created_at, body)
), incoming as (
  select t.* from unnest($6::uuid[], $7::text[], $8::text[], $9::text[], $10::text[], $11::jsonb[], $12::timestamptz[], $13::jsonb[])
           with ordinality as t(report_id, check_id, status, summary, remediation, evidence, measured_at, reason, n)
), stored as (
  select check_id, status, measured_at, changed_at from check_states
   where device_id = $1 and check_id in (select check_id from incoming)
), newer as (
  select i.*, coalesce(lag(i.status) over w, s.status) as previous
    from incoming i left join stored s using (check_id)
   where s.measured_at is null or i.measured_at >= s.measured_at
  window w as (partition by i.check_id order by i.measured_at, i.n)
), runs as (
  select n.*, max(case when n.previous is distinct from n.status then n.measured_at end)
                over (partition by n.check_id order by n.measured_at, n.n) as run_start
    from newer n
), changes as (
  insert into check_changes (device_id, check_id, from_status, to_status, summary, measured_at, recorded_at)
  select $1, check_id, previous, status, summary, measured_at, $2 from runs
   where previous is distinct from status
), latest as (
  select distinct on (check_id) * from runs order by check_id, measured_at desc, n desc
), states as (
  insert into check_states (device_id, check_id, status, summary, remediation, evidence, measured_at, changed_at, reason)
  select $1, l.check_id, l.status, l.summary, l.remediation, l.evidence, l.measured_at,
         coalesce(l.run_start, s.changed_at, l.measured_at), l.reason
    from latest l left join stored s using (check_id)
  on conflict (device_id, check_id) do update set
    status = excluded.status, summary = excluded.summary, remediation = excluded.remediation,
    evidence = excluded.evidence, measured_at = excluded.measured_at, reason = excluded.reason,
    changed_at = excluded.changed_at
  where check_states.measured_at <= excluded.measured_at
), newest as (
  select id, created_at, body from batch order by created_at desc limit 1
), news as (
  select report_id as id from runs where previous is distinct from status
  union
  select n.id from newest n cross join devices d
   where d.id = $1 and ${ADOPT}
     and (d.facts is distinct from n.body->'device'
          or d.overall_status is distinct from n.body->>'overall'
          or d.policy_version is distinct from (n.body->'policy'->>'version')::integer)
), stored_reports as (
  insert into reports (id, device_id, created_at, received_at, body)
  select id, $1, created_at, $2, body from batch
   where created_at >= $20 and ($19 or id in (select id from news))
  on conflict (id) do nothing
), device as (
  update devices d set
    last_seen_at = $2,
    last_report_at = case when ${ADOPT} then n.created_at else d.last_report_at end,
    overall_status = case when ${ADOPT} then n.body->>'overall' else d.overall_status end,
    facts = case when ${ADOPT} then n.body->'device' else d.facts end,
    hostname = case when ${ADOPT} then n.body->'device'->>'hostname' else d.hostname end,
    serial = case when ${ADOPT} then n.body->'device'->>'serial' else d.serial end,
    policy_version = case when ${ADOPT} then (n.body->'policy'->>'version')::integer else d.policy_version end
  from (select 1) as one left join newest n on true
  where d.id = $1
), event_claims as (
  insert into events (id, device_id, type, occurred_at, received_at, data)
  select id, $1, type, occurred_at, $2, data
    from unnest($14::uuid[], $15::text[], $16::timestamptz[], $17::jsonb[]) as t(id, type, occurred_at, data)
  on conflict (id) do nothing
  returning id
), aup_claims as (
  -- Typed rows of the AUP register, for the AUP events claimed now only: exactly one per event id.
  insert into aup_records (event_id, device_id, school_id, outcome, user_name, user_key, role,
                           document_id, kind, version, text_sha256, acknowledged, full_name,
                           tutor_group, parent_carer, decline_action, action_error, occurred_at,
                           received_at)
  select t.id, $1, dev.school_id,
         case t.type when 'aup.accepted' then 'accepted' else 'declined' end,
         t.data->>'user', t.user_key, t.data->>'role', t.data->>'documentId', t.data->>'kind',
         t.data->>'version', t.data->>'textSha256',
         case when t.type = 'aup.accepted' then
           array(select jsonb_array_elements_text(t.data->'acknowledged')::integer)
         end,
         t.data->>'fullName', t.data->>'tutorGroup', t.data->>'parentCarer', t.data->>'action',
         t.data->>'actionError', t.occurred_at, $2
    from unnest($14::uuid[], $15::text[], $16::timestamptz[], $17::jsonb[], $18::text[])
           as t(id, type, occurred_at, data, user_key)
    join event_claims c using (id)
    cross join (select school_id from devices where id = $1) as dev
   where t.type in ('aup.accepted', 'aup.declined')
  on conflict (event_id) do nothing
), seen_users as (
  -- Each user an event claimed now names, at this device's school: their latest sighting only,
  -- so the register finds who was seen this cycle without reading a year of events.
  insert into aup_seen_users (school_id, user_key, user_name, last_seen_at, device_id, event_type)
  select distinct on (t.user_key) dev.school_id, t.user_key, t.data->>'user', t.occurred_at, $1, t.type
    from unnest($14::uuid[], $15::text[], $16::timestamptz[], $17::jsonb[], $18::text[])
           as t(id, type, occurred_at, data, user_key)
    join event_claims c using (id)
    cross join (select school_id from devices where id = $1) as dev
   where t.user_key is not null
   order by t.user_key, t.occurred_at desc
  on conflict (school_id, user_key) do update set
    user_name = excluded.user_name, last_seen_at = excluded.last_seen_at,
    device_id = excluded.device_id, event_type = excluded.event_type
  where aup_seen_users.last_seen_at < excluded.last_seen_at
), person_claims as (
  -- Each event claimed now that names a console user, under that user's key (subject access).
  insert into person_events (user_key, occurred_at, event_id)
  select t.user_key, t.occurred_at, t.id
    from unnest($14::uuid[], $16::timestamptz[], $21::text[]) as t(id, occurred_at, user_key)
    join event_claims c using (id)
   where t.user_key is not null
  on conflict do nothing
)
select id from batch
union all
select id from event_claims
union all
select id from events where id = any($14::uuid[]) and device_id = $1`;

function firstOfEachId<T extends { id: string }>(items: readonly T[]): T[] {
  const seen = new Set<string>();
  return items.filter((item) => !seen.has(item.id) && seen.add(item.id));
}

/** The console user an event names, for the AUP register's "seen" users; null when none. */
function seenUser(event: AgentEvent): string | null {
  switch (event.type) {
    case 'aup.accepted':
    case 'aup.declined':
    case 'idle.locked':
    case 'usb.blocked':
    case 'usb.allowed':
      return event.data.user === null || event.data.user === '' ? null : event.data.user;
    default:
      return null;
  }
}

/**
 * The console user an event names, for subject access (`person_events`); null when none. Every
 * event type is named here, so a new type that carries a user name cannot be forgotten: the
 * compiler asks for a decision (see also the list in server/store/person-export.ts).
 */
export function namedUser(event: AgentEvent): string | null {
  switch (event.type) {
    case 'aup.accepted':
    case 'aup.declined':
    case 'idle.locked':
    case 'idle.lock-failed':
    case 'usb.blocked':
    case 'usb.allowed':
    case 'tamper.tray-missing':
      return event.data.user === null || event.data.user === '' ? null : event.data.user;
    case 'tamper.antivirus-disabled':
    case 'tamper.agent-stopped':
    case 'tamper.policy-rejected':
    case 'tamper.state-corrupt':
    case 'tamper.events-dropped':
    case 'outbox.reports-dropped':
      return null;
    default: {
      const unnamed: never = event;
      throw new Error(`event type not sorted for subject access: ${JSON.stringify(unnamed)}`);
    }
  }
}

/** Which raw reports the server keeps, and for how long (server config). */
export interface ReportStorage {
  /** `news`: only reports that change something; `all`: every report (more storage, for audit). */
  keep: 'news' | 'all';
  /** Raw reports older than this are purged; one created earlier is not stored at all. */
  retentionDays: number;
}

export const DEFAULT_REPORT_STORAGE: ReportStorage = { keep: 'news', retentionDays: 30 };

/** Applies a batch idempotently; returns every id the server now holds for this device. */
export async function ingestBatch(
  db: Queryable,
  deviceId: string,
  batch: ReportBatch,
  now: Date,
  storage: ReportStorage = DEFAULT_REPORT_STORAGE,
): Promise<string[]> {
  // Oldest first, so a result's position breaks ties between equal measuredAt times; an id listed
  // twice in one batch counts once.
  const reports = [...firstOfEachId(batch.reports)].sort((a, b) =>
    a.createdAt.localeCompare(b.createdAt),
  );
  const results = reports.flatMap((report: ComplianceReport) =>
    report.results.map((result) => ({ reportId: report.id, result })),
  );
  const events = firstOfEachId(batch.events);
  const rows = await db.query<{ id: string }>(
    INGEST_SQL,
    [
      deviceId,
      now,
      reports.map((r) => r.id),
      reports.map((r) => r.createdAt),
      reports.map((r) => JSON.stringify(r)),
      results.map((x) => x.reportId),
      results.map((x) => x.result.checkId),
      results.map((x) => x.result.status),
      results.map((x) => x.result.summary),
      results.map((x) => x.result.remediation ?? null),
      results.map((x) => JSON.stringify(x.result.evidence)),
      results.map((x) => x.result.measuredAt),
      results.map((x) => (x.result.reason === undefined ? null : JSON.stringify(x.result.reason))),
      events.map((e) => e.id),
      events.map((e) => e.type),
      events.map((e) => e.occurredAt),
      events.map((e) => JSON.stringify(e.data)),
      events.map((e) => {
        const user = seenUser(e);
        return user === null ? null : aupUserKey(user);
      }),
      storage.keep === 'all',
      new Date(now.getTime() - storage.retentionDays * 86_400_000),
      events.map((e) => {
        const user = namedUser(e);
        return user === null ? null : aupUserKey(user);
      }),
    ],
    { name: 'ingest-batch' },
  );
  const held = new Set(rows.map((r) => r.id));
  return [...batch.reports, ...batch.events].map((item) => item.id).filter((id) => held.has(id));
}

/** Deletes raw reports older than the retention; state, changes and events stay. */
export async function purgeOldReports(
  db: Queryable,
  retentionDays: number,
  now: Date = new Date(),
): Promise<number> {
  const rows = await db.query('delete from reports where received_at < $1 returning 1', [
    new Date(now.getTime() - retentionDays * 86_400_000),
  ]);
  return rows.length;
}
