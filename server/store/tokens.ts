import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from '../db/db.ts';

/** SHA-256 of a token: the database never holds a usable token. */
export const hashToken = (token: string): string =>
  createHash('sha256').update(token).digest('hex');

/** An enrolment token as ICT sees it (never the token itself after creation). */
export interface EnrolmentToken {
  id: string;
  label: string;
  school: string;
  group: string;
  expiresAt: string;
  maxUses: number;
  uses: number;
  revokedAt: string | null;
  createdAt: string;
}

/** Creates a token for a school and device group; returns the secret once. */
export async function createEnrolmentToken(
  db: Queryable,
  input: {
    schoolId: string;
    groupId: string;
    label: string;
    expiresAt: Date;
    maxUses: number;
    createdBy: string | null;
  },
): Promise<{ id: string; token: string }> {
  // 32 random bytes, base64url: unguessable, and it fits a command line and an MSI property.
  const token = `hpe_${randomBytes(32).toString('base64url')}`;
  const rows = await db.query<{ id: string }>(
    `insert into enrolment_tokens (token_hash, label, school_id, group_id, expires_at, max_uses, created_by)
     values ($1, $2, $3, $4, $5, $6, $7) returning id`,
    [
      hashToken(token),
      input.label,
      input.schoolId,
      input.groupId,
      input.expiresAt,
      input.maxUses,
      input.createdBy,
    ],
  );
  const id = rows[0]?.id;
  if (id === undefined) {
    throw new Error('insert returned no id');
  }
  return { id, token };
}

const SELECT_TOKENS = `
  select t.id, t.label, s.name as school, g.name as "group",
         to_char(t.expires_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as "expiresAt",
         t.max_uses as "maxUses", t.uses,
         to_char(t.revoked_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as "revokedAt",
         to_char(t.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as "createdAt"
    from enrolment_tokens t join schools s on s.id = t.school_id join device_groups g on g.id = t.group_id`;

/** Every token, newest first. */
export async function listEnrolmentTokens(db: Queryable): Promise<EnrolmentToken[]> {
  return db.query<EnrolmentToken>(`${SELECT_TOKENS} order by t.created_at desc, t.id`);
}

/** One token as listed, or null. In a transaction, `lock` holds its row until the end. */
export async function findEnrolmentToken(
  db: Queryable,
  id: string,
  options: { lock?: boolean } = {},
): Promise<EnrolmentToken | null> {
  const rows = await db.query<EnrolmentToken>(
    `${SELECT_TOKENS} where t.id = $1${options.lock === true ? ' for update of t' : ''}`,
    [id],
  );
  return rows[0] ?? null;
}

/** Revokes a token; false when there is no such token. Revoking twice keeps the first time. */
export async function revokeEnrolmentToken(
  db: Queryable,
  id: string,
  at: Date = new Date(),
): Promise<boolean> {
  const rows = await db.query(
    'update enrolment_tokens set revoked_at = coalesce(revoked_at, $2) where id = $1 returning id',
    [id, at],
  );
  return rows.length > 0;
}

/** Why a token cannot be used. */
export type TokenRefusal = 'unknown-token' | 'token-expired' | 'token-revoked' | 'token-used-up';

/**
 * Uses a token once, inside the enrolment transaction: the row lock makes two devices racing
 * for the last use of a token get one success and one refusal.
 */
export async function consumeEnrolmentToken(
  tx: Queryable,
  token: string,
  now: Date,
): Promise<
  { ok: true; id: string; schoolId: string; groupId: string } | { ok: false; reason: TokenRefusal }
> {
  const rows = await tx.query<{
    id: string;
    school_id: string;
    group_id: string;
    expires_at: Date;
    max_uses: number;
    uses: number;
    revoked_at: Date | null;
  }>(
    'select id, school_id, group_id, expires_at, max_uses, uses, revoked_at from enrolment_tokens where token_hash = $1 for update',
    [hashToken(token)],
  );
  const row = rows[0];
  if (row === undefined) {
    return { ok: false, reason: 'unknown-token' };
  }
  if (row.revoked_at !== null) {
    return { ok: false, reason: 'token-revoked' };
  }
  if (new Date(row.expires_at).getTime() <= now.getTime()) {
    return { ok: false, reason: 'token-expired' };
  }
  if (row.uses >= row.max_uses) {
    return { ok: false, reason: 'token-used-up' };
  }
  await tx.query('update enrolment_tokens set uses = uses + 1 where id = $1', [row.id]);
  return { ok: true, id: row.id, schoolId: row.school_id, groupId: row.group_id };
}
