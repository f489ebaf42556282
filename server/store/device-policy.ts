// The policy one device fetches: its group's policy with ICT's USB approvals in scope for that
// device merged into `usb.allow`, under an ETag that changes when an approval is made, revoked
// or runs out, so that a device's conditional fetch gets the new allowlist.
import { createHash } from 'node:crypto';
import type { Policy } from '../../shared/index.ts';
import type { Queryable } from '../db/db.ts';
import { currentPolicy, type StoredPolicy } from './policies.ts';
import { approvalsForDevice } from './usb-approvals.ts';

/** The schema's bound on `usb.allow`; approvals beyond it are left out (oldest kept). */
const MAX_ALLOW_ENTRIES = 5000;

/** A device's policy, with the name of its group (the device's AUP rules by device group). */
export type DevicePolicy = StoredPolicy & { deviceGroup: string };

/** The policy for a device, or null when the device or its group's policy is missing. */
export async function policyForDevice(
  db: Queryable,
  deviceId: string,
  now: Date,
): Promise<DevicePolicy | null> {
  const devices = await db.query<{ group_id: string; school_id: string; group_name: string }>(
    `select d.group_id, d.school_id, g.name as group_name
       from devices d join device_groups g on g.id = d.group_id
      where d.id = $1`,
    [deviceId],
  );
  const device = devices[0];
  if (device === undefined) {
    return null;
  }
  const found = await mergedPolicy(db, device, now);
  return found === null ? null : { ...found, deviceGroup: device.group_name };
}

async function mergedPolicy(
  db: Queryable,
  device: { group_id: string; school_id: string },
  now: Date,
): Promise<StoredPolicy | null> {
  const [policy, approvals] = await Promise.all([
    currentPolicy(db, device.group_id),
    approvalsForDevice(db, { groupId: device.group_id, schoolId: device.school_id }, now),
  ]);
  if (policy === null || approvals.length === 0) {
    // No approval in scope: the group's document and ETag as uploaded.
    return policy;
  }
  const allow = [...policy.document.usb.allow, ...approvals].slice(0, MAX_ALLOW_ENTRIES);
  const document: Policy = { ...policy.document, usb: { ...policy.document.usb, allow } };
  // The approvals are a pure function of their rows, so hashing the group's ETag with them gives
  // the same ETag for the same merged document, and a new one after any change.
  const etag = `"${createHash('sha256')
    .update(policy.etag)
    .update(JSON.stringify(approvals))
    .digest('base64url')
    .slice(0, 32)}"`;
  return { document, version: policy.version, etag };
}
