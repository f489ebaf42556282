import type { DeviceFacts } from '../../shared/index.ts';
import type { Queryable } from '../db/db.ts';

/** Result of an enrolment. */
export type Enrolment =
  | { ok: true; deviceId: string; cloneSuspect: boolean }
  | { ok: false; reason: 'key-in-use' | 'unknown-device' | 'machine-mismatch' };

/**
 * Stores a newly enrolled device. Re-enrolment is explicit (`replaces`, checked against the
 * machine id); another active device with the same machine id is never merged: both are
 * flagged as a possible cloned image.
 */
export async function insertDevice(
  tx: Queryable,
  input: {
    schoolId: string;
    groupId: string;
    tokenId: string;
    publicKeySpki: string;
    facts: DeviceFacts;
    replaces: string | undefined;
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
  if (input.replaces !== undefined) {
    const old = await tx.query<{ machine_id_hash: string | null }>(
      'select machine_id_hash from devices where id = $1 and retired_at is null for update',
      [input.replaces],
    );
    const previous = old[0];
    if (previous === undefined) {
      return { ok: false, reason: 'unknown-device' };
    }
    if (
      previous.machine_id_hash === null ||
      previous.machine_id_hash !== input.facts.machineIdHash
    ) {
      return { ok: false, reason: 'machine-mismatch' };
    }
    await tx.query('update devices set retired_at = $2 where id = $1', [
      input.replaces,
      input.enrolledAt,
    ]);
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
      input.replaces ?? null,
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

/** The public key of an active device, for signature checks; null when unknown or retired. */
export async function findDeviceKey(db: Queryable, deviceId: string): Promise<string | null> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(deviceId)) {
    return null;
  }
  const rows = await db.query<{ public_key_spki: string }>(
    'select public_key_spki from devices where id = $1 and retired_at is null',
    [deviceId],
    { name: 'device-key' },
  );
  return rows[0]?.public_key_spki ?? null;
}
