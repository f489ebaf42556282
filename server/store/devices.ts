import type { DeviceFacts } from '../../shared/index.ts';
import type { Queryable } from '../db/db.ts';

/** Result of storing a new device. */
export type Enrolment =
  { ok: true; deviceId: string; cloneSuspect: boolean } | { ok: false; reason: 'key-in-use' };

/**
 * Stores a newly enrolled device. Another active device with the same machine id is never
 * merged: both are flagged as a possible cloned image. Replacing a device is a separate step
 * (`retireForReplacement`), which needs proof, never facts: a machine id is public.
 */
export async function insertDevice(
  tx: Queryable,
  input: {
    schoolId: string;
    groupId: string;
    /** The enrolment token used, or the replaced device's when its key proved the replacement. */
    tokenId: string | null;
    publicKeySpki: string;
    facts: DeviceFacts;
    replaces: string | null;
    /** The server's clock (app.now()), not the database's. */
    enrolledAt: Date;
  },
): Promise<Enrolment> {
  const existingKey = await tx.query('select 1 from devices where public_key_spki = $1', [
    input.publicKeySpki,
  ]);
  if (existingKey.length > 0) {
    return { ok: false, reason: 'key-in-use' };
  }
  const twins =
    input.facts.machineIdHash === null
      ? []
      : await tx.query<{ id: string }>(
          'select id from devices where machine_id_hash = $1 and retired_at is null',
          [input.facts.machineIdHash],
        );
  const cloneSuspect = twins.length > 0;
  const rows = await tx.query<{ id: string }>(
    `insert into devices (school_id, group_id, public_key_spki, machine_id_hash, hostname, serial, os_name,
                          facts, enrolled_via, clone_suspect, replaces, enrolled_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) returning id`,
    [
      input.schoolId,
      input.groupId,
      input.publicKeySpki,
      input.facts.machineIdHash,
      input.facts.hostname,
      input.facts.serial,
      input.facts.os.name,
      JSON.stringify(input.facts),
      input.tokenId,
      cloneSuspect,
      input.replaces,
      input.enrolledAt,
    ],
  );
  if (cloneSuspect) {
    await tx.query('update devices set clone_suspect = true where id = any($1::uuid[])', [
      twins.map((t) => t.id),
    ]);
  }
  const id = rows[0]?.id;
  if (id === undefined) {
    throw new Error('insert returned no id');
  }
  return { ok: true, deviceId: id, cloneSuspect };
}

/** How a replacement was proved: the old device's key signed it, or ICT allowed it. */
export type ReplacementProof =
  { kind: 'device-key' } | { kind: 'ict-approval'; tokenSchoolId: string };

/** The device being replaced, locked and retired; or why it may not be. */
export type Retirement =
  | {
      ok: true;
      schoolId: string;
      groupId: string;
      enrolledVia: string | null;
      machineIdHash: string | null;
      approvedBy: string | null;
    }
  | { ok: false; reason: 'unknown-device' | 'replacement-not-allowed' };

/**
 * Retires an active device that a new enrolment replaces. With `device-key` the caller has
 * verified a signature by its current key; with `ict-approval` an admin must have allowed its
 * re-enrolment, the allowance must still be open and the token must be of the device's school.
 * The allowance is used up either way. Call inside the enrolment's transaction.
 */
export async function retireForReplacement(
  tx: Queryable,
  deviceId: string,
  proof: ReplacementProof,
  now: Date,
): Promise<Retirement> {
  const rows = await tx.query<{
    school_id: string;
    group_id: string;
    enrolled_via: string | null;
    machine_id_hash: string | null;
    reenrolment_allowed_until: Date | null;
    approved_by: string | null;
  }>(
    `select d.school_id, d.group_id, d.enrolled_via, d.machine_id_hash, d.reenrolment_allowed_until,
            u.username as approved_by
       from devices d left join users u on u.id = d.reenrolment_allowed_by
      where d.id = $1 and d.retired_at is null for update of d`,
    [deviceId],
  );
  const device = rows[0];
  if (device === undefined) {
    return { ok: false, reason: 'unknown-device' };
  }
  if (proof.kind === 'ict-approval') {
    const until = device.reenrolment_allowed_until;
    if (
      until === null ||
      new Date(until).getTime() <= now.getTime() ||
      device.school_id !== proof.tokenSchoolId
    ) {
      return { ok: false, reason: 'replacement-not-allowed' };
    }
  }
  await tx.query(
    `update devices set retired_at = $2, reenrolment_allowed_until = null, reenrolment_allowed_by = null
      where id = $1`,
    [deviceId, now],
  );
  return {
    ok: true,
    schoolId: device.school_id,
    groupId: device.group_id,
    enrolledVia: device.enrolled_via,
    machineIdHash: device.machine_id_hash,
    approvedBy: proof.kind === 'ict-approval' ? device.approved_by : null,
  };
}

/**
 * Links a retired device to its replacement and records the replacement as an event on both,
 * so ICT sees it in each device's history (`GET /api/v1/ict/devices/:id`).
 */
export async function recordReplacement(
  tx: Queryable,
  input: {
    oldId: string;
    newId: string;
    proof: ReplacementProof['kind'];
    approvedBy: string | null;
    sameMachineId: boolean;
    at: Date;
  },
): Promise<void> {
  await tx.query('update devices set replaced_by = $2 where id = $1', [input.oldId, input.newId]);
  await insertServerEvent(tx, input.oldId, 'device.replaced', input.at, {
    replacedBy: input.newId,
    proof: input.proof,
    approvedBy: input.approvedBy,
    sameMachineId: input.sameMachineId,
  });
  await insertServerEvent(tx, input.newId, 'device.replacement', input.at, {
    replaces: input.oldId,
    proof: input.proof,
    approvedBy: input.approvedBy,
  });
}

/** Stores an event the server itself observed about a device (no agent sent it). */
export async function insertServerEvent(
  db: Queryable,
  deviceId: string,
  type: string,
  at: Date,
  data: Record<string, unknown>,
): Promise<void> {
  await db.query(
    `insert into events (id, device_id, type, occurred_at, received_at, data)
     values (gen_random_uuid(), $1, $2, $3, $3, $4)`,
    [deviceId, type, at, JSON.stringify(data)],
  );
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The public key of an active device, for signature checks; null when unknown or retired. */
export async function findDeviceKey(db: Queryable, deviceId: string): Promise<string | null> {
  if (!UUID.test(deviceId)) {
    return null;
  }
  const rows = await db.query<{ public_key_spki: string }>(
    'select public_key_spki from devices where id = $1 and retired_at is null',
    [deviceId],
    { name: 'device-key' },
  );
  return rows[0]?.public_key_spki ?? null;
}

/** A retired device's key and what retired it, so its own requests can be told why they fail. */
export async function findRetiredDevice(
  db: Queryable,
  deviceId: string,
): Promise<{ publicKeySpki: string; retiredAt: Date; replacedBy: string | null } | null> {
  if (!UUID.test(deviceId)) {
    return null;
  }
  const rows = await db.query<{
    public_key_spki: string;
    retired_at: Date;
    replaced_by: string | null;
  }>(
    'select public_key_spki, retired_at, replaced_by from devices where id = $1 and retired_at is not null',
    [deviceId],
  );
  const row = rows[0];
  return row === undefined
    ? null
    : {
        publicKeySpki: row.public_key_spki,
        retiredAt: new Date(row.retired_at),
        replacedBy: row.replaced_by,
      };
}
