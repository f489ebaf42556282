import { createHash } from 'node:crypto';
import {
  canonicalJson,
  type AgentEvent,
  type CheckResult,
  type ComplianceReport,
  type ReportBatch,
} from '../../shared/index.ts';
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

/**
 * From the results of a batch (`incoming`: $6–$13) to check states and history; shared by full
 * reports and deltas. Ends inside the WITH list (the caller closes the last CTE).
 */
const RESULT_CTES = `stored as (
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
  where check_states.measured_at <= excluded.measured_at`;

/**
 * The batch's events ($14–$18): claimed by id, and the AUP register's rows for those claimed now.
 * `guard` is a WHERE clause that, when false, claims nothing (a delta batch whose base is wrong);
 * `personKeys` the parameter holding each event's named user's key (`personKeys()`).
 */
const EVENT_CTES = (guard: string, personKeys: string) => `event_claims as (
  insert into events (id, device_id, type, occurred_at, received_at, data)
  select id, $1, type, occurred_at, $2, data
    from unnest($14::uuid[], $15::text[], $16::timestamptz[], $17::jsonb[]) as t(id, type, occurred_at, data)
   ${guard}
  on conflict (id) do nothing
  returning id
), aup_claims as (
  -- Typed rows of the AUP register, for the AUP events claimed now only: exactly one per event id.
  insert into aup_records (event_id, device_id, school_id, outcome, user_name, user_key, role,
                           document_id, kind, version, text_sha256, acknowledged, full_name,
                           tutor_group, parent_carer, decline_action, action_error,
                           decline_reason, occurred_at, received_at)
  select t.id, $1, dev.school_id,
         case t.type when 'aup.accepted' then 'accepted' else 'declined' end,
         t.data->>'user', t.user_key, t.data->>'role', t.data->>'documentId', t.data->>'kind',
         t.data->>'version', t.data->>'textSha256',
         case when t.type = 'aup.accepted' then
           array(select jsonb_array_elements_text(t.data->'acknowledged')::integer)
         end,
         t.data->>'fullName', t.data->>'tutorGroup', t.data->>'parentCarer', t.data->>'action',
         t.data->>'actionError',
         -- The event schema allows only these three; anything else (none: an older agent) is null.
         case when t.type = 'aup.declined' and t.data->>'reason' in ('declined', 'no-tray', 'no-answer')
              then t.data->>'reason' end,
         t.occurred_at, $2
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
    from unnest($14::uuid[], $16::timestamptz[], ${personKeys}::text[]) as t(id, occurred_at, user_key)
    join event_claims c using (id)
   where t.user_key is not null
  on conflict do nothing`;

const INGEST_SQL = `
with batch as (
  select * from unnest($3::uuid[], $4::timestamptz[], $5::jsonb[], $21::bytea[]) as t(id, created_at, body, digest)
), incoming as (
  select t.* from unnest($6::uuid[], $7::text[], $8::text[], $9::text[], $10::text[], $11::jsonb[], $12::timestamptz[], $13::jsonb[])
           with ordinality as t(report_id, check_id, status, summary, remediation, evidence, measured_at, reason, n)
), ${RESULT_CTES}), newest as (
  select id, created_at, body, digest from batch order by created_at desc, id desc limit 1
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
    policy_version = case when ${ADOPT} then (n.body->'policy'->>'version')::integer else d.policy_version end,
    -- Where every report is kept raw, none is a base for deltas: each must come in full.
    report_digest = case when $19 then null when ${ADOPT} then n.digest else d.report_digest end
  from (select 1) as one left join newest n on true
  where d.id = $1
  returning d.report_digest
), ${EVENT_CTES('', '$22')})
select id::text, 'id' as kind from batch
union all
select id::text, 'id' from event_claims
union all
select id::text, 'id' from events where id = any($14::uuid[]) and device_id = $1
union all
select encode(report_digest, 'hex'), 'held' from device`;

/** The chain's newest delta is newer than the stored report (or none is stored). */
const ADOPT_DELTA = '(d.last_report_at is null or d.last_report_at <= $4)';

/**
 * A chain of deltas in one statement. The device row's update is the guard: it matches only when
 * the held digest ($3: the chain's base and each delta's digest) is one the chain starts from or
 * passes through, and every other write depends on it through RETURNING, so a wrong base writes
 * nothing. A delta that changed a status is kept raw as the delta it is (the server has no full
 * body; what it lacks, facts and unchanged results, is the base's, unchanged by definition).
 * $4, $5: the newest delta's time and overall status; $19: the chain's last digest; $20–$22: the
 * deltas' ids, times and bodies; $23: the retention cutoff.
 */
const DELTA_SQL = `
with device as (
  update devices d set
    last_seen_at = $2,
    last_report_at = case when ${ADOPT_DELTA} then $4::timestamptz else d.last_report_at end,
    overall_status = case when ${ADOPT_DELTA} then $5::text else d.overall_status end,
    report_digest = case when ${ADOPT_DELTA} then $19::bytea else d.report_digest end
  where d.id = $1 and d.report_digest = any($3::bytea[])
  returning d.report_digest
), incoming as (
  select t.* from unnest($6::uuid[], $7::text[], $8::text[], $9::text[], $10::text[], $11::jsonb[], $12::timestamptz[], $13::jsonb[])
           with ordinality as t(report_id, check_id, status, summary, remediation, evidence, measured_at, reason, n)
   where exists (select 1 from device)
), ${RESULT_CTES}), stored_deltas as (
  -- A delta that changed a status is news: kept raw as it came (its changed results, evidence
  -- included, and the digests it joins), as a full report with news would be.
  insert into reports (id, device_id, created_at, received_at, body)
  select t.id, $1, t.created_at, $2, t.body
    from unnest($20::uuid[], $21::timestamptz[], $22::jsonb[]) as t(id, created_at, body)
   where t.created_at >= $23
     and t.id in (select report_id from runs where previous is distinct from status)
  on conflict (id) do nothing
), ${EVENT_CTES('where exists (select 1 from device)', '$24')})
select id::text, 'id' as kind from unnest($20::uuid[]) as t(id) where exists (select 1 from device)
union all
select id::text, 'id' from event_claims
union all
select id::text, 'id' from events
 where id = any($14::uuid[]) and device_id = $1 and exists (select 1 from device)
union all
select encode(report_digest, 'hex'), 'applied' from device
union all
select encode(report_digest, 'hex'), 'held' from devices
 where id = $1 and not exists (select 1 from device)`;

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
    case 'idle.lock-failed':
    case 'usb.blocked':
    case 'usb.allowed':
      return event.data.user === null || event.data.user === '' ? null : event.data.user;
    default:
      return null;
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

/** The digest of a report: SHA-256 of its canonical JSON, as the agent computes it. */
export function reportDigest(report: ComplianceReport): string {
  return createHash('sha256').update(canonicalJson(report), 'utf8').digest('hex');
}

/** What a batch did: the ids the server now holds, and the digest it now holds for the device. */
export interface IngestOutcome {
  accepted: string[];
  /** The device's last report's digest as now held (lower-case hex), or null for none. */
  heldDigest: string | null;
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

/** Each event's named user's key for `person_events` ($22 of a batch, $24 of deltas), or null. */
function personKeys(events: readonly AgentEvent[]): (string | null)[] {
  return events.map((e) => {
    const user = namedUser(e);
    return user === null ? null : aupUserKey(user);
  });
}

/** The columns $14–$18 of a batch's events. */
function eventParams(events: readonly AgentEvent[]): unknown[] {
  return [
    events.map((e) => e.id),
    events.map((e) => e.type),
    events.map((e) => e.occurredAt),
    events.map((e) => JSON.stringify(e.data)),
    events.map((e) => {
      const user = seenUser(e);
      return user === null ? null : aupUserKey(user);
    }),
  ];
}

/** The columns $6–$13 of a batch's results, each naming the report it came in. */
function resultParams(results: readonly { reportId: string; result: CheckResult }[]): unknown[] {
  return [
    results.map((x) => x.reportId),
    results.map((x) => x.result.checkId),
    results.map((x) => x.result.status),
    results.map((x) => x.result.summary),
    results.map((x) => x.result.remediation ?? null),
    results.map((x) => JSON.stringify(x.result.evidence)),
    results.map((x) => x.result.measuredAt),
    results.map((x) => (x.result.reason === undefined ? null : JSON.stringify(x.result.reason))),
  ];
}

/** Splits the statement's rows into accepted ids (in the batch's order) and the held digest. */
function outcomeOf(
  rows: readonly { id: string; kind: string }[],
  ids: readonly string[],
  digestKind: string,
): IngestOutcome {
  const held = new Set(rows.filter((r) => r.kind === 'id').map((r) => r.id.toLowerCase()));
  return {
    accepted: ids.filter((id) => held.has(id.toLowerCase())),
    heldDigest: rows.find((r) => r.kind === digestKind)?.id ?? null,
  };
}

/** Applies a batch of full reports and events idempotently; returns every id the server now holds. */
export async function ingestBatch(
  db: Queryable,
  deviceId: string,
  batch: ReportBatch,
  now: Date,
  storage: ReportStorage = DEFAULT_REPORT_STORAGE,
): Promise<string[]> {
  return (await ingestFullBatch(db, deviceId, batch, now, storage)).accepted;
}

/** Applies a batch of full reports and events; also says which report digest is now held. */
export async function ingestFullBatch(
  db: Queryable,
  deviceId: string,
  batch: ReportBatch,
  now: Date,
  storage: ReportStorage = DEFAULT_REPORT_STORAGE,
): Promise<IngestOutcome> {
  // Oldest first, so a result's position breaks ties between equal measuredAt times; an id listed
  // twice in one batch counts once.
  const reports = [...firstOfEachId(batch.reports)].sort((a, b) =>
    a.createdAt.localeCompare(b.createdAt),
  );
  const results = reports.flatMap((report: ComplianceReport) =>
    report.results.map((result) => ({ reportId: report.id, result })),
  );
  const events = firstOfEachId(batch.events);
  const rows = await db.query<{ id: string; kind: string }>(
    INGEST_SQL,
    [
      deviceId,
      now,
      reports.map((r) => r.id),
      reports.map((r) => r.createdAt),
      reports.map((r) => JSON.stringify(r)),
      ...resultParams(results),
      ...eventParams(events),
      storage.keep === 'all',
      new Date(now.getTime() - storage.retentionDays * 86_400_000),
      // Hashed only where a delta may follow (a server keeping every report raw takes none).
      reports.map((r) => (storage.keep === 'all' ? null : Buffer.from(reportDigest(r), 'hex'))),
      personKeys(events),
    ],
    { name: 'ingest-batch' },
  );
  return outcomeOf(
    rows,
    [...batch.reports, ...batch.events].map((item) => item.id),
    'held',
  );
}

/** What a batch of deltas did: applied, or refused whole because its base is not held. */
export type DeltaOutcome =
  ({ kind: 'applied' } & IngestOutcome) | { kind: 'base-mismatch'; heldDigest: string | null };

/**
 * Applies a chain of deltas (each starting from the one before, the first from `base`) and events,
 * in one statement, only if the device's held digest is the chain's base or the digest of one of
 * its deltas (a resend of a chain already applied, in part or whole: the state machinery makes
 * that a no-op). Otherwise nothing at all is applied, not even the events: the device sends the
 * same items in full. The caller has checked the chain (chainProblem).
 */
export async function ingestDeltaBatch(
  db: Queryable,
  deviceId: string,
  batch: ReportBatch,
  now: Date,
  retentionDays: number = DEFAULT_REPORT_STORAGE.retentionDays,
): Promise<DeltaOutcome> {
  const deltas = batch.deltas ?? [];
  const last = deltas.at(-1);
  if (last === undefined) {
    throw new Error('ingestDeltaBatch needs at least one delta');
  }
  const newest = deltas.reduce((a, b) => (b.createdAt > a.createdAt ? b : a), last);
  const digests = [deltas[0]?.base ?? last.base, ...deltas.map((d) => d.digest)];
  const results = deltas.flatMap((delta) =>
    delta.results.map((result) => ({ reportId: delta.id, result })),
  );
  const events = firstOfEachId(batch.events);
  const rows = await db.query<{ id: string; kind: string }>(
    DELTA_SQL,
    [
      deviceId,
      now,
      digests.map((d) => Buffer.from(d, 'hex')),
      newest.createdAt,
      newest.overall,
      ...resultParams(results),
      ...eventParams(events),
      // The chain's end: what the device holds once all of it is applied.
      Buffer.from(last.digest, 'hex'),
      deltas.map((d) => d.id),
      deltas.map((d) => d.createdAt),
      deltas.map((d) => JSON.stringify(d)),
      new Date(now.getTime() - retentionDays * 86_400_000),
      personKeys(events),
    ],
    { name: 'ingest-deltas' },
  );
  const outcome = outcomeOf(
    rows,
    [...deltas, ...batch.events].map((item) => item.id),
    'applied',
  );
  if (rows.some((r) => r.kind === 'applied')) {
    return { kind: 'applied', ...outcome };
  }
  return { kind: 'base-mismatch', heldDigest: rows.find((r) => r.kind === 'held')?.id ?? null };
}

/**
 * What is wrong with a batch's deltas as a chain, in plain words, or null: each must start from
 * the one before it, ids and check ids must not repeat, and full reports must not come beside them.
 */
export function chainProblem(batch: ReportBatch): string | null {
  const deltas = batch.deltas ?? [];
  if (deltas.length === 0) {
    return null;
  }
  if (batch.reports.length > 0) {
    return 'a batch carries full reports or deltas, not both';
  }
  const ids = new Set<string>();
  for (const [index, delta] of deltas.entries()) {
    const previous = deltas[index - 1];
    if (previous !== undefined && delta.base !== previous.digest) {
      return `delta ${delta.id} does not start from the delta before it (${previous.id})`;
    }
    if (ids.has(delta.id.toLowerCase())) {
      return `delta ${delta.id} is listed twice`;
    }
    ids.add(delta.id.toLowerCase());
    const checks = delta.results.map((r) => r.checkId);
    if (new Set(checks).size !== checks.length) {
      return `delta ${delta.id} names a check more than once`;
    }
  }
  return null;
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
