// "Known devices" (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"): after a
// successful sign-in the browser gets a random cookie that vouches for it and that account. Its
// attempts then count against the cookie alone (login-limits.ts), so guesses at the account from
// elsewhere, or from behind the same school NAT, never slow the owner's usual browser down.
// Stored as SHA-256 in PostgreSQL, like sessions, so every instance knows every device.
import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from '../db/db.ts';
import { readCookie } from './sessions.ts';

/** Name of the known-device cookie. */
export const KNOWN_DEVICE_COOKIE = 'hallpass_known_device';

/** How long a browser stays known after its sign-in. */
export const KNOWN_DEVICE_DAYS = 90;

/** Known browsers kept per account; the oldest go first. */
const PER_ACCOUNT = 20;

const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * The hash of the request's known-device cookie when it vouches for `username` and has not
 * expired; null otherwise (no cookie, a forged one, another account's, an old one).
 */
export async function knownDeviceFor(
  db: Queryable,
  cookieHeader: string | undefined,
  username: string,
  now: Date,
): Promise<string | null> {
  const value = readCookie(cookieHeader, KNOWN_DEVICE_COOKIE);
  if (value === null || !COOKIE_VALUE.test(value)) {
    return null;
  }
  const idHash = sha256(value);
  const rows = await db.query(
    'select 1 from known_devices where id_hash = $1 and username = $2 and created_at > $3',
    [idHash, username.toLowerCase(), new Date(now.getTime() - KNOWN_DEVICE_DAYS * 86_400_000)],
  );
  return rows.length > 0 ? idHash : null;
}

/** Remembers a browser for an account; returns the cookie value to give it. */
export async function rememberDevice(db: Queryable, username: string, now: Date): Promise<string> {
  const value = randomBytes(32).toString('base64url');
  const user = username.toLowerCase();
  await db.query('insert into known_devices (id_hash, username, created_at) values ($1, $2, $3)', [
    sha256(value),
    user,
    now,
  ]);
  // Bounded per account, and expired ones go, so the table cannot grow with every sign-in.
  await db.query(
    `delete from known_devices where username = $1 and (created_at <= $2 or id_hash not in
       (select id_hash from known_devices where username = $1 order by created_at desc limit $3))`,
    [user, new Date(now.getTime() - KNOWN_DEVICE_DAYS * 86_400_000), PER_ACCOUNT],
  );
  return value;
}

/** The `Set-Cookie` value of a known-device cookie: sent back to the sign-in route only. */
export function knownDeviceCookie(value: string, secure: boolean): string {
  return [
    `${KNOWN_DEVICE_COOKIE}=${value}`,
    'Path=/api/v1/ict/session',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${String(KNOWN_DEVICE_DAYS * 86_400)}`,
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}
