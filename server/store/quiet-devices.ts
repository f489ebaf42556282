// Devices that have gone quiet: stale (silent since their last contact, or since enrolment, for
// longer than the stale threshold) or never reported, longest silent first. The school page lists
// a school's; the governors' report names the trust's oldest. Each is what the device list's
// silentDays and status=none filters find, so the counts that link there list exactly these.
import type { Queryable } from '../db/db.ts';
import { DAY_MS, iso, isoRequired } from './read-values.ts';

/** A quiet device, with its school and group by name. */
export interface QuietDeviceRow {
  id: string;
  hostname: string;
  school: string;
  group: string;
  enrolledAt: string;
  /** Last contact of any kind; null when it never spoke after enrolling. */
  lastSeenAt: string | null;
  stale: boolean;
  neverReported: boolean;
}

interface Row {
  id: string;
  hostname: string;
  school_name: string;
  group_name: string;
  enrolled_at: Date;
  last_seen_at: Date | null;
  stale: boolean;
  never_reported: boolean;
}

/**
 * The first `limit` quiet active devices of one school (or of the trust when `schoolId` is null),
 * longest silent first. Stale ones all come before any that are only never-reported.
 */
export async function quietDevices(
  db: Queryable,
  options: { schoolId: string | null; staleDays: number; limit: number },
  now: Date,
): Promise<QuietDeviceRow[]> {
  const staleBefore = new Date(now.getTime() - options.staleDays * DAY_MS);
  // The school's condition only when there is one, so a school's query plans as it always has
  // (from the index with school_id first).
  const school = options.schoolId === null ? '' : 'and d.school_id = $3';
  const rows = await db.query<Row>(
    `select d.id, d.hostname, s.name as school_name, g.name as group_name, d.enrolled_at,
            d.last_seen_at, coalesce(d.last_seen_at, d.enrolled_at) < $1 as stale,
            d.overall_status is null as never_reported
       from devices d
       join schools s on s.id = d.school_id
       join device_groups g on g.id = d.group_id
      where d.retired_at is null ${school}
        and (coalesce(d.last_seen_at, d.enrolled_at) < $1 or d.overall_status is null)
      order by coalesce(d.last_seen_at, d.enrolled_at), d.hostname, d.id
      limit $2`,
    options.schoolId === null
      ? [staleBefore, options.limit]
      : [staleBefore, options.limit, options.schoolId],
  );
  return rows.map((row) => ({
    id: row.id,
    hostname: row.hostname,
    school: row.school_name,
    group: row.group_name,
    enrolledAt: isoRequired(row.enrolled_at),
    lastSeenAt: iso(row.last_seen_at),
    stale: row.stale,
    neverReported: row.never_reported,
  }));
}
