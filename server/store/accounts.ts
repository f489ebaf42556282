// ICT accounts as admins manage them (issue 16): the list, disabling and re-enabling, a role
// change and a password reset. Never a password or hash out of this module.
//
// The trust must always keep an enabled admin, and two admins acting at once must not get round
// that (each disabling the other, each seeing the other still there). So every change here takes
// the same locks in the same order inside its transaction: first every enabled admin's row, in id
// order, then the target's. A second change waits for the first to commit and then sees its
// result: on PostgreSQL's READ COMMITTED a row locked `for no key update` is read again after the
// wait and dropped from the set when it no longer matches (an admin just disabled or demoted).
// `for no key update`, not `for update`: it does not block the key-share locks that inserting a
// session or an audit row takes on an account, so sign-ins and other admin work go on meanwhile.
import type { Account } from '../../shared/index.ts';
import { endSessions } from '../auth/sessions.ts';
import type { Queryable } from '../db/db.ts';
import { iso, isoRequired } from './read-values.ts';
import type { Role } from './users.ts';

interface AccountRow {
  id: string;
  username: string;
  role: Role;
  created_at: Date;
  disabled_at: Date | null;
  password_changed_at: Date;
  last_sign_in_at: Date | null;
}

const SELECT_ACCOUNT = `select id, username, role, created_at, disabled_at, password_changed_at,
       last_sign_in_at from users`;

function toAccount(row: AccountRow, withSignIn: boolean): Account {
  return {
    id: row.id,
    username: row.username,
    role: row.role,
    createdAt: isoRequired(row.created_at),
    disabledAt: iso(row.disabled_at),
    passwordChangedAt: isoRequired(row.password_changed_at),
    ...(withSignIn ? { lastSignInAt: iso(row.last_sign_in_at) } : {}),
  };
}

/** An account as the audit log records it: what an admin can change, never a secret. */
export function auditedAccount(account: Account): {
  id: string;
  username: string;
  role: Role;
  disabledAt: string | null;
  passwordChangedAt: string;
} {
  const { id, username, role, disabledAt, passwordChangedAt } = account;
  return { id, username, role, disabledAt, passwordChangedAt };
}

/** Every account, by username; `withSignIn` adds each one's latest sign-in (admins only). */
export async function listAccounts(
  db: Queryable,
  options: { withSignIn: boolean },
): Promise<Account[]> {
  const rows = await db.query<AccountRow>(`${SELECT_ACCOUNT} order by username`);
  return rows.map((row) => toAccount(row, options.withSignIn));
}

/** Stamps an account's successful sign-in. */
export async function recordSignIn(db: Queryable, userId: string, at: Date): Promise<void> {
  await db.query('update users set last_sign_in_at = $2 where id = $1', [userId, at]);
}

/** Why an admin's change to an account was refused. */
export type AccountRefusal =
  /** No account has that id. */
  | 'not-found'
  /** Disabling or demoting the account that asks: another admin must do it. */
  | 'own-account'
  /** It would leave no enabled admin. */
  | 'last-admin'
  /** The account that asks is no longer an enabled admin (changed while this waited). */
  | 'not-admin';

/** A change to an account's standing. */
export type StandingChange =
  { kind: 'disable' } | { kind: 'enable' } | { kind: 'role'; role: Role };

/** A change made (or found already made: `changed` false), or why it was refused. */
export type AccountOutcome =
  | { ok: true; changed: boolean; before: Account; after: Account; sessionsEnded: number }
  | { ok: false; refusal: AccountRefusal };

/**
 * Locks every enabled admin (id order) and then the target, as every change here does; returns
 * the enabled admins' ids and the target, or a refusal. `actorId` null is the server's operator
 * (no account), who needs no admin standing; the last-admin rule holds for everyone.
 */
async function lockForChange(
  tx: Queryable,
  actorId: string | null,
  targetId: string,
): Promise<
  { ok: true; admins: Set<string>; target: AccountRow } | { ok: false; refusal: AccountRefusal }
> {
  const admins = await tx.query<{ id: string }>(
    `select id from users where role = 'admin' and disabled_at is null order by id
       for no key update`,
  );
  const ids = new Set(admins.map((row) => row.id));
  if (actorId !== null && !ids.has(actorId)) {
    return { ok: false, refusal: 'not-admin' };
  }
  const rows = await tx.query<AccountRow>(`${SELECT_ACCOUNT} where id = $1 for no key update`, [
    targetId,
  ]);
  const target = rows[0];
  return target === undefined
    ? { ok: false, refusal: 'not-found' }
    : { ok: true, admins: ids, target };
}

async function readAccount(tx: Queryable, id: string): Promise<Account> {
  const rows = await tx.query<AccountRow>(`${SELECT_ACCOUNT} where id = $1`, [id]);
  const row = rows[0];
  if (row === undefined) {
    throw new Error(`account ${id} vanished inside its own transaction`);
  }
  return toAccount(row, true);
}

/**
 * Disables, re-enables or changes the role of an account, inside the caller's transaction (which
 * also writes the audit row). Disabling ends the account's sessions at once and moves its session
 * generation on, so a sign-in racing it leaves nothing behind either. Asking for what already is
 * (disabling a disabled account) changes nothing and succeeds.
 */
export async function changeStanding(
  tx: Queryable,
  input: { actorId: string | null; targetId: string; change: StandingChange; now: Date },
): Promise<AccountOutcome> {
  const { actorId, targetId, change, now } = input;
  const locked = await lockForChange(tx, actorId, targetId);
  if (!locked.ok) {
    return locked;
  }
  const { admins, target } = locked;
  const before = toAccount(target, true);
  const enabled = target.disabled_at === null;
  const noChange =
    (change.kind === 'disable' && !enabled) ||
    (change.kind === 'enable' && enabled) ||
    (change.kind === 'role' && change.role === target.role);
  if (noChange) {
    return { ok: true, changed: false, before, after: before, sessionsEnded: 0 };
  }
  const losesStanding =
    change.kind === 'disable' || (change.kind === 'role' && change.role !== 'admin');
  if (losesStanding && targetId === actorId) {
    return { ok: false, refusal: 'own-account' };
  }
  // Only an enabled admin's leaving counts: demoting a disabled admin takes no one away.
  if (losesStanding && admins.has(targetId) && admins.size <= 1) {
    return { ok: false, refusal: 'last-admin' };
  }
  let sessionsEnded = 0;
  if (change.kind === 'disable') {
    await tx.query(
      `update users set disabled_at = $2, session_generation = session_generation + 1
        where id = $1`,
      [targetId, now],
    );
    sessionsEnded = await endSessions(tx, targetId);
  } else if (change.kind === 'enable') {
    await tx.query('update users set disabled_at = null where id = $1', [targetId]);
  } else {
    // A new role takes effect on the account's next request: sessions read it every time.
    await tx.query('update users set role = $2 where id = $1', [targetId, change.role]);
  }
  return { ok: true, changed: true, before, after: await readAccount(tx, targetId), sessionsEnded };
}

/**
 * Sets a new password (already hashed: the caller hashes outside the transaction, so no lock is
 * held through 128 MiB of scrypt), ends the account's sessions and moves its session generation
 * on. Inside the caller's transaction; the same locks as every change here.
 */
export async function resetPassword(
  tx: Queryable,
  input: { actorId: string | null; targetId: string; passwordHash: string; now: Date },
): Promise<AccountOutcome> {
  const locked = await lockForChange(tx, input.actorId, input.targetId);
  if (!locked.ok) {
    return locked;
  }
  const before = toAccount(locked.target, true);
  await tx.query(
    `update users set password_hash = $2, password_changed_at = $3,
            session_generation = session_generation + 1
      where id = $1`,
    [input.targetId, input.passwordHash, input.now],
  );
  const sessionsEnded = await endSessions(tx, input.targetId);
  return {
    ok: true,
    changed: true,
    before,
    after: await readAccount(tx, input.targetId),
    sessionsEnded,
  };
}
