import { hashPassword, passwordProblem } from '../auth/passwords.ts';
import type { Queryable } from '../db/db.ts';

/** Roles of ICT accounts: admins change things, viewers read. */
export type Role = 'admin' | 'viewer';

/** An ICT account as stored. */
export interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  role: Role;
  disabled_at: Date | null;
  /** Sessions are good only while theirs matches this (migration 014). */
  session_generation: number;
}

/** A refused account creation. */
export class UserError extends Error {}

/** Creates a local ICT account. */
export async function createUser(
  db: Queryable,
  input: { username: string; password: string; role: Role },
): Promise<{ id: string }> {
  if (!/^[A-Za-z0-9._@-]{1,100}$/.test(input.username)) {
    throw new UserError('a username is 1–100 letters, digits or . _ @ -');
  }
  const problem = passwordProblem(input.password);
  if (problem !== null) {
    throw new UserError(problem);
  }
  const rows = await db.query<{ id: string }>(
    'insert into users (username, password_hash, role) values ($1, $2, $3) on conflict (username) do nothing returning id',
    [input.username, await hashPassword(input.password), input.role],
  );
  const row = rows[0];
  if (row === undefined) {
    throw new UserError(`a user named ${input.username} already exists`);
  }
  return row;
}

/** Finds an enabled account by name. */
export async function findUser(db: Queryable, username: string): Promise<UserRow | null> {
  const rows = await db.query<UserRow>(
    `select id, username, password_hash, role, disabled_at, session_generation
       from users where username = $1 and disabled_at is null`,
    [username],
  );
  return rows[0] ?? null;
}
