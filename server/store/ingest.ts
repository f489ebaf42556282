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

/** Applies one report to the latest state per check, recording status changes. */
async function applyReport(
  tx: Queryable,
  deviceId: string,
  report: ComplianceReport,
): Promise<void> {
  const r = report.results;
  // Data-modifying CTEs all see the state before this statement, so `previous` is the old status.
  await tx.query(
    `with incoming as (
       select * from unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::timestamptz[], $8::jsonb[])
         as t(check_id, status, summary, remediation, evidence, measured_at, reason)
     ), changes as (
       insert into check_changes (device_id, check_id, from_status, to_status, summary, measured_at)
       select $1, i.check_id, c.status, i.status, i.summary, i.measured_at
         from incoming i left join check_states c on c.device_id = $1 and c.check_id = i.check_id
        where (c.status is distinct from i.status) and (c.measured_at is null or c.measured_at <= i.measured_at)
     )
     insert into check_states (device_id, check_id, status, summary, remediation, evidence, measured_at, changed_at, reason)
     select $1, check_id, status, summary, remediation, evidence, measured_at, measured_at, reason from incoming
     on conflict (device_id, check_id) do update set
       status = excluded.status, summary = excluded.summary, remediation = excluded.remediation,
       evidence = excluded.evidence, measured_at = excluded.measured_at, reason = excluded.reason,
       changed_at = case when check_states.status = excluded.status then check_states.changed_at else excluded.measured_at end
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
  await tx.query(
    `update devices set last_report_at = $2, overall_status = $3, facts = $4, hostname = $5, serial = $6,
            policy_version = $7
      where id = $1 and (last_report_at is null or last_report_at <= $2)`,
    [
      deviceId,
      report.createdAt,
      report.overall,
      JSON.stringify(report.device),
      report.device.hostname,
      report.device.serial,
      report.policy.version,
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
    for (const report of fresh) {
      await applyReport(tx, deviceId, report);
    }
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
  await tx.query('update devices set last_seen_at = $2 where id = $1', [deviceId, now]);
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
