// The ICT device list: filters, pages (offset or a cursor in hostname order) and the CSV export.
// Set-based SQL only (no query per row): meant to stay well under 100 ms with 100,000 devices.
import type { CheckStatus, DeviceListItem, DeviceListQuery } from '../../shared/index.ts';
import type { Queryable } from '../db/db.ts';
import { DAY_MS, iso } from './read-values.ts';

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

/** A device row as the list and the device page read it. */
export interface DeviceRow {
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

export const DEVICE_COLUMNS = `d.id, d.hostname, d.serial, coalesce(d.facts #>> '{os,distro}', d.os_name) as os,
  s.name as school, g.name as "group", d.overall_status, d.last_seen_at, d.last_report_at,
  d.clone_suspect`;

/** FROM of the device queries: each device with its school and group. */
export const DEVICE_FROM =
  'devices d join schools s on s.id = d.school_id join device_groups g on g.id = d.group_id';

/**
 * The list's rows for the ids a page query picks. Only ids and hostnames go through the
 * ordering, OFFSET and LIMIT (from devices_active_hostname alone when the filters allow); the
 * wide rows are read for the page's devices only.
 */
const pageRows = (ids: string): string =>
  `select ${DEVICE_COLUMNS} from (${ids}) p join devices d on d.id = p.id
     join schools s on s.id = d.school_id join device_groups g on g.id = d.group_id`;

export function toListItem(row: DeviceRow): DeviceListItem {
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
