import type { Queryable } from '../db/db.ts';

/**
 * Records a request nonce; false when this device already used it (a replay). Lives in the
 * database so every server instance behind a load balancer sees every nonce.
 */
export async function recordNonce(
  db: Queryable,
  deviceId: string,
  nonce: string,
): Promise<boolean> {
  const rows = await db.query(
    'insert into seen_nonces (device_id, nonce) values ($1, $2) on conflict do nothing returning 1',
    [deviceId, nonce],
    { name: 'record-nonce' },
  );
  return rows.length > 0;
}

/** Forgets nonces older than the window in which a signature's `created` is accepted. */
export async function purgeNonces(db: Queryable, olderThanSeconds: number): Promise<number> {
  const rows = await db.query(
    'delete from seen_nonces where seen_at < now() - make_interval(secs => $1) returning 1',
    [olderThanSeconds],
  );
  return rows.length;
}
