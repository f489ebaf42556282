// Alert destinations and the delivery log (issue 16): what ICT manages on the alerts page, and the
// durable queue the sender works through. A delivery is claimed with a lease (its next attempt moved
// past the time a send can take) under `for update skip locked`, so two instances never send the
// same one at once, and one that died mid-send leaves it to be tried again when the lease ends.
import { randomBytes } from 'node:crypto';
import type {
  AlertDelivery,
  AlertDeliveryStatus,
  AlertDestination,
  AlertKind,
  AlertMode,
} from '../../shared/index.ts';
import type { Queryable } from '../db/db.ts';
import type { StoredPayload } from './alert-items.ts';
import { iso, isoRequired } from './read-values.ts';

/** Attempts before a delivery is given up as failed. */
export const MAX_ATTEMPTS = 8;
/** How long a claimed delivery is left to its sender before another may try it. */
export const CLAIM_LEASE_MS = 5 * 60_000;

/** The wait after the `attempts`-th failure: 1, 2, 4 … minutes, at most 6 hours. */
export const retryDelayMs = (attempts: number): number =>
  Math.min(60_000 * 2 ** Math.max(0, attempts - 1), 6 * 3_600_000);

const masked = (secret: string | null): string | null =>
  secret === null ? null : `whsec_…${secret.slice(-4)}`;

interface DestinationRow {
  id: string;
  kind: AlertKind;
  target: string;
  label: string;
  school_id: string | null;
  school: string | null;
  mode: AlertMode;
  secret: string | null;
  enabled: boolean;
  created_at: Date;
}

const toDestination = (row: DestinationRow): AlertDestination => ({
  id: row.id,
  kind: row.kind,
  target: row.target,
  label: row.label,
  schoolId: row.school_id,
  school: row.school,
  mode: row.mode,
  secretMasked: masked(row.secret),
  enabled: row.enabled,
  createdAt: isoRequired(row.created_at),
});

const SELECT_DESTINATIONS = `
  select d.id, d.kind, d.target, d.label, d.school_id, s.name as school, d.mode, d.secret,
         d.enabled, d.created_at
    from alert_destinations d left join schools s on s.id = d.school_id`;

/** Every destination, oldest first; secrets masked. */
export async function listDestinations(db: Queryable): Promise<AlertDestination[]> {
  const rows = await db.query<DestinationRow>(`${SELECT_DESTINATIONS} order by d.created_at, d.id`);
  return rows.map(toDestination);
}

/** One destination as listed, or null. In a transaction, `lock` holds its row to the end. */
export async function findDestination(
  db: Queryable,
  id: string,
  options: { lock?: boolean } = {},
): Promise<AlertDestination | null> {
  const rows = await db.query<DestinationRow>(
    `${SELECT_DESTINATIONS} where d.id = $1${options.lock === true ? ' for update of d' : ''}`,
    [id],
  );
  const row = rows[0];
  return row === undefined ? null : toDestination(row);
}

/**
 * Adds a destination; a webhook gets a new signing secret, returned this once. It receives the
 * alerts found from now on, not the history.
 */
export async function createDestination(
  tx: Queryable,
  input: {
    kind: AlertKind;
    target: string;
    label: string;
    schoolId: string | null;
    mode: AlertMode;
    createdBy: string | null;
    at: Date;
  },
): Promise<{ id: string; secret: string | null }> {
  const secret = input.kind === 'webhook' ? randomBytes(32).toString('base64url') : null;
  const rows = await tx.query<{ id: string }>(
    `insert into alert_destinations
       (kind, target, label, school_id, mode, secret, created_by, created_at, items_through)
     values ($1, $2, $3, $4, $5, $6, $7, $8, (select coalesce(max(id), 0) from alert_items))
     returning id`,
    [
      input.kind,
      input.target,
      input.label,
      input.schoolId,
      input.mode,
      secret,
      input.createdBy,
      input.at,
    ],
  );
  const id = rows[0]?.id;
  if (id === undefined) {
    throw new Error('insert returned no id');
  }
  return { id, secret };
}

/** Turns a destination on or off; false when there is no such destination. */
export async function setDestinationEnabled(
  tx: Queryable,
  id: string,
  enabled: boolean,
): Promise<boolean> {
  const rows = await tx.query(
    'update alert_destinations set enabled = $2 where id = $1 returning 1',
    [id, enabled],
  );
  return rows.length > 0;
}

/** Removes a destination and its deliveries; false when there is no such destination. */
export async function removeDestination(tx: Queryable, id: string): Promise<boolean> {
  const rows = await tx.query('delete from alert_destinations where id = $1 returning 1', [id]);
  return rows.length > 0;
}

interface DeliveryRow {
  id: string;
  destination_id: string;
  destination: string;
  kind: AlertDelivery['kind'];
  day: string | null;
  item_count: number;
  status: AlertDeliveryStatus;
  attempts: number;
  last_error: string | null;
  created_at: Date;
  last_attempt_at: Date | null;
  next_attempt_at: Date;
  delivered_at: Date | null;
}

const toDelivery = (row: DeliveryRow): AlertDelivery => ({
  id: row.id,
  destinationId: row.destination_id,
  destination: row.destination,
  kind: row.kind,
  day: row.day,
  itemCount: row.item_count,
  status: row.status,
  attempts: row.attempts,
  maxAttempts: MAX_ATTEMPTS,
  lastError: row.last_error,
  createdAt: isoRequired(row.created_at),
  lastAttemptAt: iso(row.last_attempt_at),
  nextAttemptAt: row.status === 'pending' ? isoRequired(row.next_attempt_at) : null,
  deliveredAt: iso(row.delivered_at),
});

const SELECT_DELIVERIES = `
  select a.id, a.destination_id, case when d.label = '' then d.target else d.label end as destination,
         a.kind, to_char(a.digest_day, 'YYYY-MM-DD') as day, a.item_count, a.status, a.attempts,
         a.last_error, a.created_at, a.last_attempt_at, a.next_attempt_at, a.delivered_at
    from alert_deliveries a join alert_destinations d on d.id = a.destination_id`;

/** Recent deliveries, newest first, optionally of one status. */
export async function listDeliveries(
  db: Queryable,
  filter: { status?: AlertDeliveryStatus; limit: number },
): Promise<AlertDelivery[]> {
  const rows = await db.query<DeliveryRow>(
    `${SELECT_DELIVERIES} where ($1::text is null or a.status = $1)
      order by a.created_at desc, a.id limit $2`,
    [filter.status ?? null, filter.limit],
  );
  return rows.map(toDelivery);
}

/** One delivery as listed, or null. */
export async function findDelivery(db: Queryable, id: string): Promise<AlertDelivery | null> {
  const rows = await db.query<DeliveryRow>(`${SELECT_DELIVERIES} where a.id = $1`, [id]);
  const row = rows[0];
  return row === undefined ? null : toDelivery(row);
}

/** Queues a test message for a destination, due now; its id. */
export async function queueTestDelivery(
  tx: Queryable,
  destination: AlertDestination,
  now: Date,
): Promise<string> {
  const payload: StoredPayload = {
    type: 'hallpass.alert.test',
    generatedAt: now.toISOString(),
    day: null,
    scope: { schoolId: destination.schoolId, school: destination.school },
    schools: [],
  };
  const rows = await tx.query<{ id: string }>(
    `insert into alert_deliveries (destination_id, kind, payload, next_attempt_at, created_at)
     values ($1, 'test', $2, $3, $3) returning id`,
    [destination.id, JSON.stringify(payload), now],
  );
  const id = rows[0]?.id;
  if (id === undefined) {
    throw new Error('insert returned no id');
  }
  return id;
}

/** Puts a failed delivery back in the queue with its attempts reset; false if it is not failed. */
export async function retryDelivery(tx: Queryable, id: string, now: Date): Promise<boolean> {
  const rows = await tx.query(
    `update alert_deliveries set status = 'pending', attempts = 0, next_attempt_at = $2
      where id = $1 and status = 'failed' returning 1`,
    [id, now],
  );
  return rows.length > 0;
}

/** A delivery taken by a sender: what to send, and where. */
export interface ClaimedDelivery {
  id: string;
  attempts: number;
  payload: StoredPayload;
  kind: AlertKind;
  target: string;
  secret: string | null;
}

/**
 * Takes up to `limit` due deliveries of enabled destinations (a test goes even to a disabled one)
 * for this sender: each attempt is counted and the next moved past the lease at once.
 */
export async function claimDueDeliveries(
  db: Queryable,
  now: Date,
  limit: number,
  only: string | null = null,
): Promise<ClaimedDelivery[]> {
  const rows = await db.query<{
    id: string;
    attempts: number;
    payload: StoredPayload;
    kind: AlertKind;
    target: string;
    secret: string | null;
  }>(
    `with due as (
       select a.id from alert_deliveries a join alert_destinations d on d.id = a.destination_id
        where a.status = 'pending' and a.next_attempt_at <= $1 and (d.enabled or a.kind = 'test')
          and ($3::uuid is null or a.id = $3)
        order by a.next_attempt_at, a.id
        limit $2
        for update of a skip locked
     ), claimed as (
       update alert_deliveries a set attempts = a.attempts + 1, last_attempt_at = $1,
              next_attempt_at = $1::timestamptz + make_interval(secs => $4)
         from due where a.id = due.id
       returning a.id, a.attempts, a.payload, a.destination_id
     )
     select c.id, c.attempts, c.payload, d.kind, d.target, d.secret
       from claimed c join alert_destinations d on d.id = c.destination_id`,
    [now, limit, only, CLAIM_LEASE_MS / 1000],
  );
  return rows;
}

/** Records how an attempt ended: delivered, to be retried after its back-off, or given up. */
export async function recordAttempt(
  db: Queryable,
  delivery: { id: string; attempts: number },
  error: string | null,
  now: Date,
): Promise<AlertDeliveryStatus> {
  const status: AlertDeliveryStatus =
    error === null ? 'delivered' : delivery.attempts >= MAX_ATTEMPTS ? 'failed' : 'pending';
  await db.query(
    `update alert_deliveries set status = $2, last_error = $3,
            delivered_at = case when $2 = 'delivered' then $4::timestamptz end,
            next_attempt_at = $5
      where id = $1 and attempts = $6`,
    [
      delivery.id,
      status,
      error === null ? null : error.slice(0, 1000),
      now,
      new Date(now.getTime() + retryDelayMs(delivery.attempts)),
      delivery.attempts,
    ],
  );
  return status;
}
