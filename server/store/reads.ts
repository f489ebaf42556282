// What the ICT API reads: the compliance summary, the filtered device list, one device's
// detail and events. Set-based SQL only (one statement per answer part, no query per row): the
// summary and the list are meant to stay well under 100 ms with 100,000 devices.
import type {
  CheckId,
  CheckStatus,
  ComplianceSummary,
  DeviceDetail,
  DeviceFacts,
  DeviceListItem,
  DeviceListQuery,
  StatusCounts,
  StoredEvent,
  UnknownReason,
} from '../../shared/index.ts';
import type { Queryable } from '../db/db.ts';

const DAY_MS = 86_400_000;

const emptyCounts = (): StatusCounts => ({ pass: 0, fail: 0, warn: 0, unknown: 0, none: 0 });

/** Adds `n` devices of `status` (null: never reported) to `counts`. */
function add(counts: StatusCounts, status: CheckStatus | null, n: number): void {
  counts[status ?? 'none'] += n;
}

const iso = (value: Date | null): string | null =>
  value === null ? null : new Date(value).toISOString();
const isoRequired = (value: Date): string => new Date(value).toISOString();

/** Compliance counts over active (not retired) devices: overall, per check and per school. */
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
  const [schools, checks] = await Promise.all([bySchoolRows, byCheckRows]);

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
      school = { schoolId: row.school_id, school: row.school, counts: emptyCounts() };
      bySchool.set(row.school_id, school);
    }
    add(school.counts, row.status, row.n);
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
  };
}

/** Escapes `%`, `_` and `\` so user text matches literally inside an ILIKE pattern. */
export function likeLiteral(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Conditions of a device-list query (`d` is devices) and their parameters. */
interface DeviceFilter {
  where: string;
  params: unknown[];
  /**
   * "Has no result for this check" is rare, so the planner walks the hostname index hoping to
   * meet a match soon; when there are none it probes all 100,000 devices one by one. Such a
   * filter finds every match first (one hash anti-join, materialised) and pages within them.
   */
  matchFirst: boolean;
}

/** Appends `value` to `params`; returns its placeholder. */
function param(params: unknown[], value: unknown): string {
  params.push(value);
  return `$${String(params.length)}`;
}

function deviceFilter(query: DeviceListQuery, now: Date): DeviceFilter {
  const params: unknown[] = [];
  const p = (value: unknown): string => param(params, value);
  const conditions = ['d.retired_at is null'];
  if (query.schoolId !== undefined) {
    conditions.push(`d.school_id = ${p(query.schoolId)}`);
  }
  if (query.groupId !== undefined) {
    conditions.push(`d.group_id = ${p(query.groupId)}`);
  }
  if (query.silentDays !== undefined) {
    const before = new Date(now.getTime() - query.silentDays * DAY_MS);
    // Silent since its last contact, or since enrolment if it never reported: a device enrolled
    // five minutes ago is not "not reported for 7 days".
    conditions.push(`coalesce(d.last_seen_at, d.enrolled_at) < ${p(before)}`);
  }
  if (query.search !== undefined && query.search !== '') {
    // lower() on both sides with LIKE matches as ILIKE does; devices_active_hostname stores
    // lower(hostname) and lower(serial), so the scan reads them from the index (migration 005).
    const pattern = p(`%${likeLiteral(query.search)}%`);
    conditions.push(
      `(lower(d.hostname) like lower(${pattern}) escape '\\' or lower(d.serial) like lower(${pattern}) escape '\\')`,
    );
  }
  if (query.status !== undefined) {
    if (query.checkId === undefined) {
      conditions.push(
        query.status === 'none'
          ? 'd.overall_status is null'
          : `d.overall_status = ${p(query.status)}`,
      );
    } else if (query.status === 'none') {
      conditions.push(
        `not exists (select 1 from check_states c where c.device_id = d.id and c.check_id = ${p(query.checkId)})`,
      );
    } else {
      conditions.push(
        `exists (select 1 from check_states c where c.device_id = d.id and c.check_id = ${p(query.checkId)} and c.status = ${p(query.status)})`,
      );
    }
  }
  return {
    where: conditions.join(' and '),
    params,
    matchFirst: query.status === 'none' && query.checkId !== undefined,
  };
}

/** The `matched` CTE: id and hostname of every device the filter lets through. */
const matchedCte = (filter: DeviceFilter): string =>
  `matched as ${filter.matchFirst ? 'materialized ' : ''}(select d.id, d.hostname from devices d where ${filter.where})`;

/** Which devices of `matched` one page holds: a cursor, an order, a limit and an offset. */
interface PageSpec {
  after?: string | undefined;
  before?: string | undefined;
  limit: number;
  offset: number;
}

/**
 * SELECT of one page's ids and hostnames from `matched` (aliased `d`). A cursor compares
 * (hostname, id) with the cursor device's own, which devices_active_hostname seeks to directly;
 * a page before the cursor is read backwards and put back in order by the caller. An unknown
 * cursor id compares with NULL: an empty page.
 */
function pageIds(page: PageSpec, params: unknown[]): string {
  const cursor = page.before ?? page.after;
  const backwards = page.before !== undefined;
  let keyset = '';
  if (cursor !== undefined) {
    const id = `${param(params, cursor)}::uuid`;
    keyset = `where (d.hostname, d.id) ${backwards ? '<' : '>'} ((select k.hostname from devices k where k.id = ${id}), ${id})`;
  }
  const direction = backwards ? ' desc' : '';
  return `select d.id, d.hostname from matched d ${keyset}
    order by d.hostname${direction}, d.id${direction}
    limit ${param(params, page.limit)} offset ${param(params, page.offset)}`;
}

interface DeviceRow {
  id: string;
  hostname: string;
  serial: string | null;
  os: string;
  school: string;
  group: string;
  overall_status: CheckStatus | null;
  last_seen_at: Date | null;
  last_report_at: Date | null;
  clone_suspect: boolean;
}

const DEVICE_COLUMNS = `d.id, d.hostname, d.serial, coalesce(d.facts #>> '{os,distro}', d.os_name) as os,
  s.name as school, g.name as "group", d.overall_status, d.last_seen_at, d.last_report_at,
  d.clone_suspect`;

/** FROM of the device queries: each device with its school and group. */
const DEVICE_FROM =
  'devices d join schools s on s.id = d.school_id join device_groups g on g.id = d.group_id';

/**
 * The list's rows for the ids a page query picks. Only ids and hostnames go through the
 * ordering, OFFSET and LIMIT (from devices_active_hostname alone when the filters allow); the
 * wide rows are read for the page's devices only.
 */
const pageRows = (ids: string): string =>
  `select ${DEVICE_COLUMNS} from (${ids}) p join devices d on d.id = p.id
     join schools s on s.id = d.school_id join device_groups g on g.id = d.group_id`;

function toListItem(row: DeviceRow): DeviceListItem {
  return {
    id: row.id,
    hostname: row.hostname,
    serial: row.serial,
    os: row.os,
    school: row.school,
    group: row.group,
    overall: row.overall_status,
    lastSeenAt: iso(row.last_seen_at),
    lastReportAt: iso(row.last_report_at),
    cloneSuspect: row.clone_suspect,
  };
}

/**
 * Filtered devices, ordered by hostname, one page of them and how many match in all. A page is
 * chosen by `offset` or by a keyset cursor (`after` / `before`, a device id); not by both.
 */
export async function listDevices(
  db: Queryable,
  query: DeviceListQuery,
  now: Date,
): Promise<{ total: number; items: DeviceListItem[] }> {
  const filter = deviceFilter(query, now);
  const params = [...filter.params];
  const ids = pageIds(
    {
      after: query.after,
      before: query.before,
      limit: query.limit ?? 100,
      offset: query.offset ?? 0,
    },
    params,
  );
  if (filter.matchFirst) {
    // Every match is found anyway: count them in the same statement. The page's rows join to the
    // single count row, so an empty page still brings the total.
    const rows = await db.query<{ total: number } & (DeviceRow | { [K in keyof DeviceRow]: null })>(
      `with ${matchedCte(filter)}
       select t.total, x.* from (select count(*)::int as total from matched) t
         left join (${pageRows(ids)}) x on true
        order by x.hostname, x.id`,
      params,
    );
    return {
      total: rows[0]?.total ?? 0,
      items: rows.flatMap((row) => (row.id === null ? [] : [toListItem(row)])),
    };
  }
  const [rows, count] = await Promise.all([
    db.query<DeviceRow>(
      `with ${matchedCte(filter)} ${pageRows(ids)} order by d.hostname, d.id`,
      params,
    ),
    db.query<{ n: number }>(
      `select count(*)::int as n from devices d where ${filter.where}`,
      filter.params,
    ),
  ]);
  return { total: count[0]?.n ?? 0, items: rows.map(toListItem) };
}

/** Most rows a CSV export holds. */
export const CSV_MAX_ROWS = 100_000;

/** Every device matching the filters (up to `CSV_MAX_ROWS`), ordered by hostname. */
export async function exportDevices(
  db: Queryable,
  query: DeviceListQuery,
  now: Date,
): Promise<DeviceListItem[]> {
  const filter = deviceFilter(query, now);
  const params = [...filter.params];
  const ids = pageIds({ limit: CSV_MAX_ROWS, offset: 0 }, params);
  const rows = await db.query<DeviceRow>(
    `with ${matchedCte(filter)} ${pageRows(ids)} order by d.hostname, d.id`,
    params,
  );
  return rows.map(toListItem);
}

interface EventRow {
  id: string;
  device_id: string;
  hostname: string;
  type: string;
  occurred_at: Date;
  data: Record<string, unknown>;
}

const toEvent = (row: EventRow): StoredEvent => ({
  id: row.id,
  deviceId: row.device_id,
  hostname: row.hostname,
  type: row.type,
  occurredAt: isoRequired(row.occurred_at),
  data: row.data,
});

/** One device with its latest check states, last 100 changes and last 100 events; null if unknown. */
export async function deviceDetail(db: Queryable, id: string): Promise<DeviceDetail | null> {
  // Retired devices stay readable: their history is still the trust's record.
  const [devices, checks, history, events] = await Promise.all([
    db.query<DeviceRow & { facts: DeviceFacts; enrolled_at: Date; policy_version: number | null }>(
      `select ${DEVICE_COLUMNS}, d.facts, d.enrolled_at, d.policy_version
         from ${DEVICE_FROM} where d.id = $1`,
      [id],
    ),
    db.query<{
      check_id: CheckId;
      status: CheckStatus;
      summary: string;
      remediation: string | null;
      evidence: Record<string, unknown>;
      measured_at: Date;
      changed_at: Date;
      reason: UnknownReason | null;
    }>(
      `select check_id, status, summary, remediation, evidence, measured_at, changed_at, reason
         from check_states where device_id = $1 order by check_id`,
      [id],
    ),
    db.query<{
      check_id: CheckId;
      from_status: CheckStatus | null;
      to_status: CheckStatus;
      summary: string;
      measured_at: Date;
    }>(
      `select check_id, from_status, to_status, summary, measured_at
         from check_changes where device_id = $1 order by measured_at desc, id desc limit 100`,
      [id],
    ),
    db.query<EventRow>(
      `select e.id, e.device_id, d.hostname, e.type, e.occurred_at, e.data
         from events e join devices d on d.id = e.device_id
        where e.device_id = $1 order by e.occurred_at desc, e.id limit 100`,
      [id],
    ),
  ]);
  const device = devices[0];
  if (device === undefined) {
    return null;
  }
  return {
    device: toListItem(device),
    facts: device.facts,
    enrolledAt: isoRequired(device.enrolled_at),
    policyVersion: device.policy_version,
    checks: checks.map((c) => ({
      checkId: c.check_id,
      status: c.status,
      summary: c.summary,
      remediation: c.remediation,
      reason: c.reason,
      evidence: c.evidence,
      measuredAt: isoRequired(c.measured_at),
      changedAt: isoRequired(c.changed_at),
    })),
    history: history.map((h) => ({
      checkId: h.check_id,
      from: h.from_status,
      to: h.to_status,
      summary: h.summary,
      measuredAt: isoRequired(h.measured_at),
    })),
    events: events.map(toEvent),
  };
}

/** Filters of the event list. */
export interface EventQuery {
  deviceId?: string;
  type?: string;
  limit?: number;
  offset?: number;
}

/** Events, newest first, one page of them and how many match in all. */
export async function listEvents(
  db: Queryable,
  query: EventQuery,
): Promise<{ total: number; items: StoredEvent[] }> {
  const params: unknown[] = [];
  const conditions: string[] = [];
  if (query.deviceId !== undefined) {
    params.push(query.deviceId);
    conditions.push(`e.device_id = $${String(params.length)}`);
  }
  if (query.type !== undefined) {
    params.push(query.type);
    conditions.push(`e.type = $${String(params.length)}`);
  }
  const where = conditions.length === 0 ? '' : `where ${conditions.join(' and ')}`;
  const n = params.length;
  const [rows, count] = await Promise.all([
    db.query<EventRow>(
      `select e.id, e.device_id, d.hostname, e.type, e.occurred_at, e.data
         from events e join devices d on d.id = e.device_id ${where}
        order by e.occurred_at desc, e.id limit $${String(n + 1)} offset $${String(n + 2)}`,
      [...params, query.limit ?? 100, query.offset ?? 0],
    ),
    db.query<{ n: number }>(`select count(*)::int as n from events e ${where}`, params),
  ]);
  return { total: count[0]?.n ?? 0, items: rows.map(toEvent) };
}
