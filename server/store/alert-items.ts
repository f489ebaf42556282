// Alert items and the queue (issue 16). Items are derived from what ingest already stores — a check
// changing to fail, a `tamper.*` event, a device silent too long — by a job every server instance
// runs (server/alerts/job.ts); ingest itself knows nothing of alerts. One instance at a time does
// the work (a transaction-scoped advisory lock; the others skip the run), so item ids are committed
// in order and each destination's `items_through` mark never skips one. Each item's `source` is
// unique, so rescanning an overlap window (for a change whose transaction committed late) adds
// nothing twice; each digest is one row per destination and day, so it is queued once a day.
import type {
  AlertItem,
  AlertItemKind,
  AlertPayload,
  AlertSchoolSection,
} from '../../shared/index.ts';
import type { Database, Queryable } from '../db/db.ts';
import { DAY_MS } from './read-values.ts';
import { utcDay } from './compliance-snapshots.ts';

// The first half of the two-integer advisory lock key: "alrt".
const ALERT_LOCK_SPACE = 0x616c7274;
/** How far back each scan looks again, for rows whose transaction committed after a later one. */
export const SCAN_OVERLAP_MS = 10 * 60_000;
/** How far back the first scan of a new server looks. */
const FIRST_SCAN_MS = DAY_MS;
/** Items and finished deliveries older than this are deleted, so the tables stay small. */
export const ALERT_RETENTION_DAYS = 90;
/** The most items one school's section of a message lists (the counts still count them all). */
export const ITEMS_PER_SCHOOL = 200;

/** What the job needs to know from the configuration. */
export interface AlertSettings {
  /** Devices not heard from for this many days are reported silent, once per silence. */
  silentDays: number;
  /** The UTC hour from which the day's digest is queued. */
  digestHourUtc: number;
}

/** What one run of the scan did. */
export interface ScanOutcome {
  /** False when another instance held the lock, so this one did nothing. */
  ran: boolean;
  items: number;
  queued: number;
}

async function scannedThrough(tx: Queryable, name: string, now: Date): Promise<Date> {
  const rows = await tx.query<{ scanned_through: Date }>(
    'select scanned_through from alert_scan_state where name = $1',
    [name],
  );
  const at = rows[0]?.scanned_through;
  return at === undefined ? new Date(now.getTime() - FIRST_SCAN_MS) : new Date(at);
}

/** Moves a scan's mark forward to the newest row it saw (never back). */
async function markScanned(tx: Queryable, name: string, newest: Date | null): Promise<void> {
  if (newest === null) {
    return;
  }
  await tx.query(
    `insert into alert_scan_state (name, scanned_through) values ($1, $2)
     on conflict (name) do update set
       scanned_through = greatest(alert_scan_state.scanned_through, excluded.scanned_through)`,
    [name, newest],
  );
}

/** Adds the items found since the last scan; returns how many are new. */
async function deriveItems(tx: Queryable, now: Date, settings: AlertSettings): Promise<number> {
  const changesFrom = new Date(
    (await scannedThrough(tx, 'check-changes', now)).getTime() - SCAN_OVERLAP_MS,
  );
  const eventsFrom = new Date(
    (await scannedThrough(tx, 'events', now)).getTime() - SCAN_OVERLAP_MS,
  );
  const failed = await tx.query<{ n: number; newest: Date | null }>(
    `with seen as (
       select c.id, c.device_id, d.school_id, c.check_id, c.summary, c.from_status, c.to_status,
              c.measured_at, c.recorded_at, d.hostname
         from check_changes c join devices d on d.id = c.device_id
        where c.recorded_at >= $1
     ), added as (
       insert into alert_items (source, kind, school_id, device_id, occurred_at, detected_at, data)
       select 'change:' || id, 'check-failed', school_id, device_id, measured_at, $2,
              jsonb_build_object('hostname', hostname, 'checkId', check_id,
                                 'summary', left(summary, 2000), 'from', from_status)
         from seen s
        where s.to_status = 'fail'
       on conflict (source) do nothing
       returning 1
     )
     select (select count(*)::int from added) as n, (select max(recorded_at) from seen) as newest`,
    [changesFrom, now],
  );
  const tamper = await tx.query<{ n: number; newest: Date | null }>(
    `with seen as (
       select e.id, e.device_id, e.type, e.occurred_at, e.received_at, e.data, d.school_id,
              d.hostname
         from events e join devices d on d.id = e.device_id
        where e.received_at >= $1
     ), added as (
       insert into alert_items (source, kind, school_id, device_id, occurred_at, detected_at, data)
       select 'event:' || id, 'tamper', school_id, device_id, occurred_at, $2,
              jsonb_build_object('hostname', hostname, 'eventType', type, 'detail', data)
         from seen where type like 'tamper.%'
       on conflict (source) do nothing
       returning 1
     )
     select (select count(*)::int from added) as n, (select max(received_at) from seen) as newest`,
    [eventsFrom, now],
  );
  // One item per silence: its source names the last contact, so a device that speaks and falls
  // silent again is a new item, and one that stays silent is not reported every run.
  const silent = await tx.query<{ n: number }>(
    `with added as (
       insert into alert_items (source, kind, school_id, device_id, occurred_at, detected_at, data)
       select 'silent:' || d.id || ':' || extract(epoch from coalesce(d.last_seen_at, d.enrolled_at))::text,
              'device-silent', d.school_id, d.id, coalesce(d.last_seen_at, d.enrolled_at), $1,
              jsonb_build_object('hostname', d.hostname, 'lastSeenAt', d.last_seen_at)
         from devices d
        where d.retired_at is null and coalesce(d.last_seen_at, d.enrolled_at) < $2
       on conflict (source) do nothing
       returning 1
     )
     select count(*)::int as n from added`,
    [now, new Date(now.getTime() - settings.silentDays * DAY_MS)],
  );
  await markScanned(tx, 'check-changes', failed[0]?.newest ?? null);
  await markScanned(tx, 'events', tamper[0]?.newest ?? null);
  return (failed[0]?.n ?? 0) + (tamper[0]?.n ?? 0) + (silent[0]?.n ?? 0);
}

interface ItemRow {
  kind: AlertItemKind;
  school_id: string;
  school: string;
  device_id: string;
  occurred_at: Date;
  data: {
    hostname?: string;
    checkId?: string;
    summary?: string;
    eventType?: string;
    detail?: unknown;
  };
}

function toItem(row: ItemRow): AlertItem {
  const base = {
    kind: row.kind,
    deviceId: row.device_id,
    hostname: row.data.hostname ?? '',
    occurredAt: new Date(row.occurred_at).toISOString(),
  };
  switch (row.kind) {
    case 'check-failed':
      return { ...base, checkId: row.data.checkId ?? '', summary: row.data.summary ?? '' };
    case 'tamper':
      return { ...base, eventType: row.data.eventType ?? '', detail: row.data.detail ?? null };
    case 'device-silent':
      return base;
  }
}

/** The items after `after` up to `through` for one school or all, grouped by school. */
export async function schoolSections(
  db: Queryable,
  schoolId: string | null,
  after: number,
  through: number,
): Promise<AlertSchoolSection[]> {
  const rows = await db.query<ItemRow & { n: number; c: number; t: number; s: number }>(
    `with picked as (
       select i.*, row_number() over (partition by i.school_id order by i.id) as rank
         from alert_items i
        where i.id > $1 and i.id <= $2 and ($3::uuid is null or i.school_id = $3)
     ), totals as (
       select school_id, count(*) filter (where kind = 'check-failed')::int as c,
              count(*) filter (where kind = 'tamper')::int as t,
              count(*) filter (where kind = 'device-silent')::int as s, count(*)::int as n
         from picked group by school_id
     )
     select p.kind, p.school_id, sc.name as school, p.device_id, p.occurred_at, p.data,
            t.n, t.c, t.t, t.s
       from picked p join totals t using (school_id) join schools sc on sc.id = p.school_id
      where p.rank <= $4
      order by sc.name, sc.id, p.id`,
    [after, through, schoolId, ITEMS_PER_SCHOOL],
  );
  const sections: AlertSchoolSection[] = [];
  for (const row of rows) {
    let section = sections.at(-1);
    if (section?.schoolId !== row.school_id) {
      section = {
        schoolId: row.school_id,
        school: row.school,
        counts: { checkFailed: row.c, tamper: row.t, deviceSilent: row.s },
        items: [],
        truncated: row.n > ITEMS_PER_SCHOOL,
      };
      sections.push(section);
    }
    section.items.push(toItem(row));
  }
  return sections;
}

interface DestinationRow {
  id: string;
  mode: 'digest' | 'immediate';
  school_id: string | null;
  school: string | null;
  items_through: string;
  last_digest_day: string | null;
}

/** A message's payload before it has its delivery id. */
export type StoredPayload = Omit<AlertPayload, 'deliveryId'>;

/** Queues a digest (once a day, from the digest hour) or an immediate message per destination. */
async function queueDeliveries(tx: Queryable, now: Date, settings: AlertSettings): Promise<number> {
  const [top] = await tx.query<{ id: string }>(
    'select coalesce(max(id), 0)::text as id from alert_items',
  );
  const through = Number(top?.id ?? 0);
  const day = utcDay(now);
  const digestDue = now.getUTCHours() >= settings.digestHourUtc;
  const destinations = await tx.query<DestinationRow>(
    `select d.id, d.mode, d.school_id, s.name as school, d.items_through::text as items_through,
            to_char(d.last_digest_day, 'YYYY-MM-DD') as last_digest_day
       from alert_destinations d left join schools s on s.id = d.school_id
      where d.enabled
      order by d.created_at
      for update of d skip locked`,
  );
  let queued = 0;
  for (const destination of destinations) {
    const after = Number(destination.items_through);
    const isDigest = destination.mode === 'digest';
    if (isDigest && (!digestDue || destination.last_digest_day === day)) {
      continue;
    }
    if (!isDigest && after >= through) {
      continue;
    }
    const schools = await schoolSections(tx, destination.school_id, after, through);
    const count = schools.reduce(
      (sum, s) => sum + s.counts.checkFailed + s.counts.tamper + s.counts.deviceSilent,
      0,
    );
    if (count > 0) {
      const payload: StoredPayload = {
        type: isDigest ? 'hallpass.alert.digest' : 'hallpass.alert.immediate',
        generatedAt: now.toISOString(),
        day: isDigest ? day : null,
        scope: { schoolId: destination.school_id, school: destination.school },
        schools,
      };
      const inserted = await tx.query(
        `insert into alert_deliveries
           (destination_id, kind, digest_day, item_count, payload, next_attempt_at, created_at)
         values ($1, $2, $3, $4, $5, $6, $6)
         on conflict (destination_id, digest_day) do nothing
         returning id`,
        [
          destination.id,
          destination.mode,
          isDigest ? day : null,
          count,
          JSON.stringify(payload),
          now,
        ],
      );
      queued += inserted.length;
    }
    await tx.query(
      `update alert_destinations set items_through = greatest(items_through, $2),
              last_digest_day = case when $3 then $4::date else last_digest_day end
        where id = $1`,
      [destination.id, through, isDigest, day],
    );
  }
  return queued;
}

/**
 * One run of the alert scan: derives new items and queues what is due. Safe on many instances at
 * once: the one that gets the lock does it, the others return `ran: false` at once.
 */
export async function scanAlerts(
  db: Database,
  now: Date,
  settings: AlertSettings,
): Promise<ScanOutcome> {
  return db.transaction(async (tx) => {
    const [lock] = await tx.query<{ got: boolean }>(
      'select pg_try_advisory_xact_lock($1, 0) as got',
      [ALERT_LOCK_SPACE],
    );
    if (lock?.got !== true) {
      return { ran: false, items: 0, queued: 0 };
    }
    const items = await deriveItems(tx, now, settings);
    const queued = await queueDeliveries(tx, now, settings);
    const before = new Date(now.getTime() - ALERT_RETENTION_DAYS * DAY_MS);
    await tx.query('delete from alert_items where detected_at < $1', [before]);
    await tx.query(`delete from alert_deliveries where status <> 'pending' and created_at < $1`, [
      before,
    ]);
    return { ran: true, items, queued };
  });
}
