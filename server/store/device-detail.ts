// One device as the ICT device page shows it (latest state, history of changes, recent events),
// and the event list.
import type {
  CheckId,
  CheckStatus,
  DeviceDetail,
  DeviceFacts,
  StoredEvent,
  UnknownReason,
} from '../../shared/index.ts';
import type { Queryable } from '../db/db.ts';
import { DEVICE_COLUMNS, DEVICE_FROM, toListItem, type DeviceRow } from './device-list.ts';
import { isoRequired } from './read-values.ts';

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
    db.query<
      DeviceRow & {
        facts: DeviceFacts;
        enrolled_at: Date;
        policy_version: number | null;
        retired_at: Date | null;
        replaced_by: string | null;
        replaces: string | null;
        reenrolment_allowed_until: Date | null;
      }
    >(
      `select ${DEVICE_COLUMNS}, d.facts, d.enrolled_at, d.policy_version, d.retired_at,
              d.replaced_by, d.replaces, d.reenrolment_allowed_until
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
    identity: {
      retiredAt: device.retired_at === null ? null : isoRequired(device.retired_at),
      replacedBy: device.replaced_by,
      replaces: device.replaces,
      reenrolmentAllowedUntil:
        device.reenrolment_allowed_until === null
          ? null
          : isoRequired(device.reenrolment_allowed_until),
    },
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
