// ICT's approval of a device's re-enrolment (issue 12): after a reimage the device has lost its
// key, so it cannot prove who it was; an admin allows one replacement of it, for a while, and a
// token of the device's school then may replace it. Every change is an event on the device.
import type { Queryable } from '../db/db.ts';
import { insertServerEvent } from './devices.ts';

/**
 * Allows one re-enrolment of an active device until `until`; false when the device is unknown
 * or retired. Recorded as a `device.re-enrolment-allowed` event naming the admin.
 */
export async function allowReenrolment(
  db: Queryable,
  input: { deviceId: string; userId: string; username: string; until: Date; now: Date },
): Promise<boolean> {
  const rows = await db.query(
    `update devices set reenrolment_allowed_until = $2, reenrolment_allowed_by = $3
      where id = $1 and retired_at is null returning 1`,
    [input.deviceId, input.until, input.userId],
  );
  if (rows.length === 0) {
    return false;
  }
  await insertServerEvent(db, input.deviceId, 'device.re-enrolment-allowed', input.now, {
    by: input.username,
    until: input.until.toISOString(),
  });
  return true;
}

/** Withdraws an open approval; false when the device is unknown or retired. */
export async function withdrawReenrolment(
  db: Queryable,
  input: { deviceId: string; username: string; now: Date },
): Promise<boolean> {
  const open = await db.query<{ open: boolean }>(
    `select reenrolment_allowed_until is not null as open from devices
      where id = $1 and retired_at is null`,
    [input.deviceId],
  );
  if (open[0] === undefined) {
    return false;
  }
  if (open[0].open) {
    await db.query(
      `update devices set reenrolment_allowed_until = null, reenrolment_allowed_by = null
        where id = $1`,
      [input.deviceId],
    );
    await insertServerEvent(db, input.deviceId, 'device.re-enrolment-withdrawn', input.now, {
      by: input.username,
    });
  }
  return true;
}

/**
 * A device's re-enrolment approval as the audit log records it; null when the device is unknown
 * or retired. In a transaction, the device's row stays locked until the end.
 */
export async function reenrolmentState(
  tx: Queryable,
  deviceId: string,
): Promise<{ deviceId: string; allowedUntil: string | null } | null> {
  const rows = await tx.query<{ until: Date | null }>(
    `select reenrolment_allowed_until as until from devices
      where id = $1 and retired_at is null for update`,
    [deviceId],
  );
  const row = rows[0];
  return row === undefined
    ? null
    : { deviceId, allowedUntil: row.until === null ? null : new Date(row.until).toISOString() };
}
