// Sign-in throttling, following OWASP ASVS 4.0.3 V2.2.1 (anti-automation that stops brute force
// and credential stuffing *without* handing attackers an account lockout, at most 100 failed
// attempts per hour on one account) and OWASP's "device cookies" design.
//
// Every attempt counts against keys in `login_failures`, shared by all server instances:
// - a browser that has signed in to the account before (a "known device", sign-in-cookies.ts)
//   counts against its own cookie only. So the real user's usual browser gets through however
//   many guesses others make at the account, from anywhere, the school's NAT address included;
// - any other attempt counts against the account and address together, the account from
//   everywhere, and the address across all accounts.
// Past a key's free allowance each further attempt waits longer (growing delays, capped), rather
// than a fixed lockout: an attacker's guesses slow to a trickle while a patient user is never shut
// out for good. Counts cover the last hour.
//
// The attempt is reserved (its rows inserted) before the password is hashed, in a transaction that
// holds an advisory lock per key, so concurrent guesses queue on the count instead of all passing
// one check made before any of them was recorded. A right password takes its rows back.
import type { Database, Queryable } from '../db/db.ts';

/** The throttle's numbers. */
export const SIGN_IN_THROTTLE = {
  /** Attempts older than this are forgotten. */
  windowSeconds: 60 * 60,
  /** The first delay past an allowance; each further attempt doubles it… */
  firstDelaySeconds: 5,
  /** …up to this. */
  maxDelaySeconds: 15 * 60,
  /** Attempts without delay, per key kind, within the window. */
  free: { knownDevice: 10, accountAddress: 5, account: 10, address: 20 },
} as const;

type KeyKind = keyof typeof SIGN_IN_THROTTLE.free;

/** One count an attempt is made against. */
export interface ThrottleKey {
  kind: KeyKind;
  key: string;
}

// Any constant: the first half of the two-integer advisory lock key, so that these locks never
// meet another part of the server's (migrate.ts uses a one-integer lock).
const THROTTLE_LOCK_SPACE = 7_201_612;

/** The 8 groups of an IPv6 address as numbers, or null when it is not one. */
function ipv6Groups(address: string): number[] | null {
  const [head = '', tail, extra] = (address.split('%')[0] ?? '').split('::');
  if (extra !== undefined) {
    return null;
  }
  const parts = (text: string) => {
    const groups = text === '' ? [] : text.split(':');
    const last = groups.at(-1);
    // An IPv4 address in the last 32 bits (RFC 4291 2.2) stands for two groups.
    if (last?.includes('.') === true) {
      groups.splice(-1, 1, '0', '0');
    }
    return groups;
  };
  const front = parts(head);
  const back = tail === undefined ? [] : parts(tail);
  const missing = 8 - front.length - back.length;
  if (tail === undefined ? missing !== 0 : missing < 1) {
    return null;
  }
  const all = [...front, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...back];
  return all.every((g) => /^[0-9a-f]{1,4}$/i.test(g)) ? all.map((g) => parseInt(g, 16)) : null;
}

/**
 * What the throttle counts as one client address: an IPv4 address (IPv4-mapped IPv6 included)
 * whole, an IPv6 address by its /64, the smallest block a site is given (RFC 6177): one home or
 * school network holds 2^64 addresses, so counting single IPv6 addresses would count nothing.
 */
export function throttleAddress(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped?.[1] !== undefined) {
    return mapped[1];
  }
  const groups = address.includes(':') ? ipv6Groups(address) : null;
  return groups === null
    ? address
    : `${groups
        .slice(0, 4)
        .map((g) => g.toString(16))
        .join(':')}::/64`;
}

/** The keys an attempt counts against (usernames are case-folded: `Admin` is `admin`). */
export function throttleKeys(
  username: string,
  clientAddress: string,
  knownDeviceHash: string | null,
): ThrottleKey[] {
  const user = username.toLowerCase();
  const address = throttleAddress(clientAddress);
  if (knownDeviceHash !== null) {
    return [{ kind: 'knownDevice', key: `device:${knownDeviceHash}` }];
  }
  return [
    { kind: 'accountAddress', key: `user-addr:${user} ${address}` },
    { kind: 'account', key: `user:${user}` },
    { kind: 'address', key: `addr:${address}` },
  ];
}

/** Seconds after the latest attempt before the next, with `count` attempts in the window. */
export function delayAfter(kind: KeyKind, count: number): number {
  const over = count - SIGN_IN_THROTTLE.free[kind];
  if (over < 0) {
    return 0;
  }
  return Math.min(
    SIGN_IN_THROTTLE.maxDelaySeconds,
    SIGN_IN_THROTTLE.firstDelaySeconds * 2 ** Math.min(over, 20),
  );
}

/** A reserved attempt (its row ids), or how many seconds to wait before the next one. */
export type Reservation = { ok: true; ids: number[] } | { ok: false; waitSeconds: number };

/**
 * Reserves one attempt against every key, or refuses it with the longest wait among them.
 * Atomic across instances: each key's advisory lock is held until the rows are in.
 */
export async function reserveAttempt(
  db: Database,
  keys: readonly ThrottleKey[],
  now: Date,
): Promise<Reservation> {
  const since = new Date(now.getTime() - SIGN_IN_THROTTLE.windowSeconds * 1000);
  const names = keys.map((k) => k.key);
  return db.transaction(async (tx) => {
    // One at a time and in one order, so two attempts can never each hold a lock the other needs.
    for (const key of [...names].sort()) {
      await tx.query('select pg_advisory_xact_lock($1, hashtext($2))', [THROTTLE_LOCK_SPACE, key]);
    }
    await tx.query('delete from login_failures where key = any($1::text[]) and failed_at <= $2', [
      names,
      since,
    ]);
    const rows = await tx.query<{ key: string; n: number; latest: Date }>(
      `select key, count(*)::int as n, max(failed_at) as latest from login_failures
        where key = any($1::text[]) group by key`,
      [names],
    );
    let wait = 0;
    for (const row of rows) {
      const kind = keys.find((k) => k.key === row.key)?.kind;
      if (kind !== undefined) {
        const freeAt = new Date(row.latest).getTime() + delayAfter(kind, row.n) * 1000;
        wait = Math.max(wait, Math.ceil((freeAt - now.getTime()) / 1000));
      }
    }
    if (wait > 0) {
      return { ok: false, waitSeconds: wait };
    }
    const inserted = await tx.query<{ id: number | bigint }>(
      'insert into login_failures (key, failed_at) select k, $2 from unnest($1::text[]) as t(k) returning id',
      [names, now],
    );
    return { ok: true, ids: inserted.map((r) => Number(r.id)) };
  });
}

/**
 * A right password: the attempt was no failure, so its rows go; and the account's count at this
 * address (or this known device's) restarts. The account-wide and address-wide counts keep other
 * people's failures: one success by the owner must not give an attacker a fresh allowance.
 */
export async function attemptSucceeded(
  db: Queryable,
  reservation: readonly number[],
  keys: readonly ThrottleKey[],
): Promise<void> {
  const personal = keys
    .filter((k) => k.kind === 'accountAddress' || k.kind === 'knownDevice')
    .map((k) => k.key);
  await db.query(
    'delete from login_failures where id = any($1::bigint[]) or key = any($2::text[])',
    [reservation, personal],
  );
}

/** Forgets attempts older than the window (housekeeping; reservations also clean their keys). */
export async function purgeLoginFailures(db: Queryable, now: Date): Promise<number> {
  const rows = await db.query('delete from login_failures where failed_at <= $1 returning 1', [
    new Date(now.getTime() - SIGN_IN_THROTTLE.windowSeconds * 1000),
  ]);
  return rows.length;
}
