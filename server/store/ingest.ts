import type { AgentEvent, ComplianceReport, ReportBatch } from '../../shared/index.ts';
import type { Queryable } from '../db/db.ts';

/**
 * Inserts ids into a table keyed by id and returns which the device may count as delivered:
 * ids new now, and ids this same device delivered before (a resend). An id already held for
 * another device is not accepted: one device can never write over another's records.
 */
async function claimIds(
  tx: Queryable,
  table: 'report_receipts' | 'events',
  deviceId: string,
  insert: { sql: string; params: unknown[] },
  ids: string[],
): Promise<{ fresh: Set<string>; accepted: string[] }> {
  if (ids.length === 0) {
    return { fresh: new Set(), accepted: [] };
  }
  const inserted = await tx.query<{ id: string }>(insert.sql, insert.params);
  const fresh = new Set(inserted.map((r) => r.id));
  const others = ids.filter((id) => !fresh.has(id));
  const mine =
    others.length === 0
      ? []
      : await tx.query<{ id: string }>(
          `select id from ${table} where id = any($1::uuid[]) and device_id = $2`,
          [others, deviceId],
        );
  const resent = new Set(mine.map((r) => r.id));
  return { fresh, accepted: ids.filter((id) => fresh.has(id) || resent.has(id)) };
}

/**
 * Applies new reports (oldest first) to the latest state per check in one statement, however
 * many reports the batch holds: a result older than the stored state changes nothing; each
 * status change, within the batch or against the stored state, is one history row; `changed_at`
 * is when the current status began.
 */
async function applyResults(
  tx: Queryable,
  deviceId: string,
  reports: readonly ComplianceReport[],
): Promise<void> {
  const r = reports.flatMap((report) => report.results);
  if (r.length === 0) {
    return;
  }
  // Data-modifying CTEs all see the state before this statement, so `stored` is the old state.
  await tx.query(
    `with incoming as (
       select * from unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::timestamptz[], $8::jsonb[])
         with ordinality as t(check_id, status, summary, remediation, evidence, measured_at, reason, n)
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
       insert into check_changes (device_id, check_id, from_status, to_status, summary, measured_at)
       select $1, check_id, previous, status, summary, measured_at from runs
        where previous is distinct from status
     ), latest as (
       select distinct on (check_id) * from runs order by check_id, measured_at desc, n desc
     )
     insert into check_states (device_id, check_id, status, summary, remediation, evidence, measured_at, changed_at, reason)
     select $1, l.check_id, l.status, l.summary, l.remediation, l.evidence, l.measured_at,
            coalesce(l.run_start, s.changed_at, l.measured_at), l.reason
       from latest l left join stored s using (check_id)
     on conflict (device_id, check_id) do update set
       status = excluded.status, summary = excluded.summary, remediation = excluded.remediation,
       evidence = excluded.evidence, measured_at = excluded.measured_at, reason = excluded.reason,
       changed_at = excluded.changed_at
     where check_states.measured_at <= excluded.measured_at`,
    [
      deviceId,
      r.map((x) => x.checkId),
      r.map((x) => x.status),
      r.map((x) => x.summary),
      r.map((x) => x.remediation ?? null),
      r.map((x) => JSON.stringify(x.evidence)),
      r.map((x) => x.measuredAt),
      r.map((x) => (x.reason === undefined ? null : JSON.stringify(x.reason))),
    ],
  );
}

/** Records contact, and the newest report's facts and overall status unless a newer one is stored. */
async function updateDevice(
  tx: Queryable,
  deviceId: string,
  newest: ComplianceReport | undefined,
  now: Date,
): Promise<void> {
  if (newest === undefined) {
    await tx.query('update devices set last_seen_at = $2 where id = $1', [deviceId, now]);
    return;
  }
  await tx.query(
    `update devices set last_seen_at = $8,
            last_report_at = case when last_report_at is null or last_report_at <= $2 then $2 else last_report_at end,
            overall_status = case when last_report_at is null or last_report_at <= $2 then $3 else overall_status end,
            facts = case when last_report_at is null or last_report_at <= $2 then $4::jsonb else facts end,
            hostname = case when last_report_at is null or last_report_at <= $2 then $5 else hostname end,
            serial = case when last_report_at is null or last_report_at <= $2 then $6 else serial end,
            policy_version = case when last_report_at is null or last_report_at <= $2 then $7 else policy_version end
      where id = $1`,
    [
      deviceId,
      newest.createdAt,
      newest.overall,
      JSON.stringify(newest.device),
      newest.device.hostname,
      newest.device.serial,
      newest.policy.version,
      now,
    ],
  );
}

/** Stores a batch idempotently; returns every id the server now holds for this device. */
export async function ingestBatch(
  tx: Queryable,
  deviceId: string,
  batch: ReportBatch,
  now: Date,
): Promise<string[]> {
  const reports = [...batch.reports].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const reportIds = reports.map((r) => r.id);
  const receipts = await claimIds(
    tx,
    'report_receipts',
    deviceId,
    {
      sql: `insert into report_receipts (id, device_id, received_at)
            select id, $2, $3 from unnest($1::uuid[]) as t(id) on conflict (id) do nothing returning id`,
      params: [reportIds, deviceId, now],
    },
    reportIds,
  );
  const fresh = reports.filter((r) => receipts.fresh.has(r.id));
  if (fresh.length > 0) {
    await tx.query(
      `insert into reports (id, device_id, created_at, received_at, body)
       select id, $2, created_at, $3, body from unnest($1::uuid[], $4::timestamptz[], $5::jsonb[]) as t(id, created_at, body)`,
      [
        fresh.map((r) => r.id),
        deviceId,
        now,
        fresh.map((r) => r.createdAt),
        fresh.map((r) => JSON.stringify(r)),
      ],
    );
    await applyResults(tx, deviceId, fresh);
  }
  const events: AgentEvent[] = batch.events;
  const eventIds = events.map((e) => e.id);
  const stored = await claimIds(
    tx,
    'events',
    deviceId,
    {
      sql: `insert into events (id, device_id, type, occurred_at, received_at, data)
            select id, $2, type, occurred_at, $3, data
              from unnest($1::uuid[], $4::text[], $5::timestamptz[], $6::jsonb[]) as t(id, type, occurred_at, data)
            on conflict (id) do nothing returning id`,
      params: [
        eventIds,
        deviceId,
        now,
        events.map((e) => e.type),
        events.map((e) => e.occurredAt),
        events.map((e) => JSON.stringify(e.data)),
      ],
    },
    eventIds,
  );
  await updateDevice(tx, deviceId, fresh.at(-1), now);
  return [...receipts.accepted, ...stored.accepted];
}

/** Deletes raw reports older than the retention; state, changes and events stay. */
export async function purgeOldReports(db: Queryable, retentionDays: number): Promise<number> {
  const rows = await db.query(
    'delete from reports where received_at < now() - make_interval(days => $1) returning 1',
    [retentionDays],
  );
  return rows.length;
}
