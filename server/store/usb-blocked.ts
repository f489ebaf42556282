// The trust-wide USB read: blocked sticks grouped by vendor, product and serial, aggregated in
// SQL from usb.blocked events of a time window (read through events_type: type, occurred_at).
import type { UsbBlockedDevice } from '../../shared/index.ts';
import type { Queryable } from '../db/db.ts';
import { isoRequired } from './read-values.ts';

/** How far back the USB page looks by default. */
export const USB_DEFAULT_DAYS = 30;

/** Most sticks the page lists (the most blocked first). */
export const USB_MAX_STICKS = 500;

// Strings are cut to the API schema's lengths in SQL: today's agents cut them before sending,
// but rows stored by an older agent, or by hand, must not fail the read (or fill the page).

// The agent bounds `count` by its schema's minimum only: a hostile one could send 1e300, which
// would overflow an integer cast and fail the whole read. Each event counts at most this much.
const MAX_COUNT_PER_EVENT = 1_000_000;

/** The read: $1 the start of the window, $2 the most sticks. Exported for its plan's test. */
export const BLOCKED_STICKS_SQL = `with blocked as (
       select e.device_id, e.occurred_at, e.data -> 'device' as device,
              left(e.data ->> 'user', 256) as usr,
              case when jsonb_typeof(e.data -> 'count') = 'number'
                   then least(greatest((e.data ->> 'count')::numeric, 1), ${String(MAX_COUNT_PER_EVENT)})
                   else 1 end as n
         from events e
        where e.type = 'usb.blocked' and e.occurred_at >= $1
     ), sticks as (
       select left(device ->> 'vendorId', 200) as vendor_id,
              left(device ->> 'productId', 200) as product_id,
              left(device ->> 'serial', 200) as serial,
              (array_agg(distinct left(device ->> 'name', 200)))[1:10] as names,
              count(distinct left(device ->> 'name', 200)) as name_count,
              least(sum(n), 2000000000)::int as blocks,
              count(distinct device_id)::int as devices,
              (array_agg(distinct usr))[1:20] as users,
              max(occurred_at) as last_seen_at
         from blocked
        group by 1, 2, 3
     )
     select vendor_id, product_id, serial, names, blocks, devices, users, last_seen_at,
            serial is not null
              and (name_count > 1 or count(*) over (partition by serial) > 1) as shared_serial
       from sticks
      order by blocks desc, last_seen_at desc, vendor_id, product_id, serial
      limit $2`;

interface StickRow {
  vendor_id: string | null;
  product_id: string | null;
  serial: string | null;
  names: (string | null)[];
  blocks: number;
  devices: number;
  users: (string | null)[];
  last_seen_at: Date;
  shared_serial: boolean;
}

/** Sticks blocked since `since`, most blocked first. */
export async function blockedSticks(
  db: Queryable,
  since: Date,
  limit = USB_MAX_STICKS,
): Promise<UsbBlockedDevice[]> {
  const rows = await db.query<StickRow>(BLOCKED_STICKS_SQL, [since, limit]);
  return rows.map((row) => ({
    vendorId: row.vendor_id ?? '',
    productId: row.product_id ?? '',
    serial: row.serial,
    names: row.names.filter((name): name is string => name !== null),
    blocks: row.blocks,
    devices: row.devices,
    users: row.users,
    lastSeenAt: isoRequired(row.last_seen_at),
    sharedSerial: row.shared_serial,
  }));
}
