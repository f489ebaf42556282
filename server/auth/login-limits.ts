// Sign-in rate limiting, counted in `login_failures` so every server instance sees every failure.
// Two keys per attempt: the username (stops guessing one account's password from many
// addresses) and the client address (stops one address spraying many usernames).
import type { Queryable } from '../db/db.ts';

/** Limits within one window; failures older than the window are forgotten. */
export const LOGIN_LIMITS = {
  windowSeconds: 15 * 60,
  perUsername: 5,
  perAddress: 20,
} as const;

/** The `login_failures` key of a username (case-folded: `Admin` and `admin` share a count). */
export const usernameKey = (username: string): string => `user:${username.toLowerCase()}`;

/** The `login_failures` key of a client address. */
export const addressKey = (address: string): string => `addr:${address}`;

/**
 * Seconds until another attempt may be made, or 0 when one may be made now. With `limit`
 * failures in the window, the wait ends when the limit-th newest of them leaves the window.
 */
async function waitFor(db: Queryable, key: string, limit: number, now: Date): Promise<number> {
  const rows = await db.query<{ failed_at: Date }>(
    `select failed_at from login_failures
      where key = $1 and failed_at > $2
      order by failed_at desc offset $3 limit 1`,
    [key, new Date(now.getTime() - LOGIN_LIMITS.windowSeconds * 1000), limit - 1],
  );
  const row = rows[0];
  if (row === undefined) {
    return 0;
  }
  const freeAt = new Date(row.failed_at).getTime() + LOGIN_LIMITS.windowSeconds * 1000;
  return Math.max(1, Math.ceil((freeAt - now.getTime()) / 1000));
}

/** Seconds the caller must wait before trying to sign in as `username` from `address`; 0: go. */
export async function loginWait(
  db: Queryable,
  username: string,
  address: string,
  now: Date,
): Promise<number> {
  const [user, addr] = await Promise.all([
    waitFor(db, usernameKey(username), LOGIN_LIMITS.perUsername, now),
    waitFor(db, addressKey(address), LOGIN_LIMITS.perAddress, now),
  ]);
  return Math.max(user, addr);
}

/** Counts a failed sign-in against the username and the address; forgets their expired rows. */
export async function recordLoginFailure(
  db: Queryable,
  username: string,
  address: string,
  now: Date,
): Promise<void> {
  const keys = [usernameKey(username), addressKey(address)];
  await db.query('delete from login_failures where key = any($1::text[]) and failed_at <= $2', [
    keys,
    new Date(now.getTime() - LOGIN_LIMITS.windowSeconds * 1000),
  ]);
  await db.query(
    'insert into login_failures (key, failed_at) select k, $2 from unnest($1::text[]) as t(k)',
    [keys, now],
  );
}

/** A successful sign-in clears the username's failures (the address keeps its count). */
export async function clearLoginFailures(db: Queryable, username: string): Promise<void> {
  await db.query('delete from login_failures where key = $1', [usernameKey(username)]);
}
