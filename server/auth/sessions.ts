// ICT sessions: a random cookie whose SHA-256 is the key of a `sessions` row, a per-session CSRF
// token, and sign-in rate limiting. All of it lives in PostgreSQL so that several server
// instances behind one load balancer share sessions and failure counts.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Queryable } from '../db/db.ts';
import type { Role } from '../store/users.ts';

/** The account a request is signed in as. */
export interface SignedInUser {
  id: string;
  username: string;
  role: Role;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `requireUser`; null (or absent outside the ICT plugin) before it runs. */
    user?: SignedInUser | null;
  }
}

/** Name of the session cookie. */
export const SESSION_COOKIE = 'hallpass_session';

/** Header that must carry the session's CSRF token on every state-changing request. */
export const CSRF_HEADER = 'x-csrf-token';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

// 32 random bytes in base64url are 43 characters; anything else is not one of ours.
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** A session found from a request's cookie. */
export interface FoundSession {
  user: SignedInUser;
  csrfToken: string;
  idHash: string;
}

/** The value of one cookie in a `Cookie` header, or null. The first of duplicates wins. */
export function readCookie(header: string | undefined, name: string): string | null {
  if (header === undefined) {
    return null;
  }
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      return part.slice(eq + 1).trim();
    }
  }
  return null;
}

/**
 * Creates a session for a user; returns the cookie value and the CSRF token, or null when the
 * account was disabled or its password reset since `generation` was read (the sign-in checked a
 * password that no longer holds). Even a session that slips in while such a change commits is
 * dead on arrival: `findSession` wants its generation to be the account's current one.
 */
export async function createSession(
  db: Queryable,
  user: { id: string; generation: number },
  now: Date,
  hours: number,
): Promise<{ id: string; csrfToken: string; expiresAt: Date } | null> {
  const id = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + hours * 3_600_000);
  // Expired sessions of this user go now, so the table does not grow with every sign-in.
  await db.query('delete from sessions where user_id = $1 and expires_at <= $2', [user.id, now]);
  const made = await db.query(
    `insert into sessions (id_hash, user_id, csrf_token, created_at, expires_at, generation)
     select $1, u.id, $3, $4, $5, u.session_generation from users u
      where u.id = $2 and u.session_generation = $6 and u.disabled_at is null
     returning 1`,
    [sha256(id), user.id, csrfToken, now, expiresAt, user.generation],
  );
  return made.length === 0 ? null : { id, csrfToken, expiresAt };
}

/** Ends every session of an account (disabled, or its password reset); how many there were. */
export async function endSessions(db: Queryable, userId: string): Promise<number> {
  const rows = await db.query('delete from sessions where user_id = $1 returning 1', [userId]);
  return rows.length;
}

/** The live session of a request's cookie (user enabled, not expired), or null. */
export async function findSession(request: FastifyRequest): Promise<FoundSession | null> {
  const id = readCookie(request.headers.cookie, SESSION_COOKIE);
  if (id === null || !SESSION_ID.test(id)) {
    return null;
  }
  const idHash = sha256(id);
  const rows = await request.server.db.query<{
    id: string;
    username: string;
    role: Role;
    csrf_token: string;
  }>(
    `select u.id, u.username, u.role, s.csrf_token
       from sessions s join users u on u.id = s.user_id
      where s.id_hash = $1 and s.expires_at > $2 and u.disabled_at is null
        and s.generation = u.session_generation`,
    [idHash, request.server.now()],
  );
  const row = rows[0];
  return row === undefined
    ? null
    : {
        user: { id: row.id, username: row.username, role: row.role },
        csrfToken: row.csrf_token,
        idHash,
      };
}

/** Ends a session. */
export async function deleteSession(db: Queryable, idHash: string): Promise<void> {
  await db.query('delete from sessions where id_hash = $1', [idHash]);
}

/** The `Set-Cookie` value for a session (or, with `null`, one that clears it). */
export function sessionCookie(
  value: string | null,
  options: { secure: boolean; maxAgeSeconds: number },
): string {
  return [
    `${SESSION_COOKIE}=${value ?? ''}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${value === null ? 0 : options.maxAgeSeconds}`,
    ...(options.secure ? ['Secure'] : []),
  ].join('; ');
}

/** Compares two secrets without leaking where they differ. */
function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * True when a state-changing request carries the session's CSRF token. SameSite=Strict already
 * keeps the cookie off cross-site requests; the header is the second lock for older browsers.
 */
export function csrfOk(request: FastifyRequest, session: FoundSession): boolean {
  if (SAFE_METHODS.has(request.method)) {
    return true;
  }
  const given = request.headers[CSRF_HEADER];
  return typeof given === 'string' && sameSecret(given, session.csrfToken);
}

/** The user `requireUser` set; throws (a bug) on a route without it. */
export function currentUser(request: FastifyRequest): SignedInUser {
  if (request.user === undefined || request.user === null) {
    throw new Error('route has no requireUser preHandler');
  }
  return request.user;
}

/** A hook that answers the request itself when it must not go on. */
export type AuthHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/**
 * preHandler (or onRequest: it reads headers only) for ICT routes: 401 without a live session; 403 `csrf` when a state-changing
 * request lacks the session's `x-csrf-token`; 403 `forbidden` for a viewer on an admin route.
 * On success sets `request.user`.
 */
export function requireUser(role: Role): AuthHook {
  return async function requireUserHandler(
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<void> {
    const session = await findSession(request);
    if (session === null) {
      await reply
        .status(401)
        .header('cache-control', 'no-store')
        .send({ error: 'unauthenticated', message: 'Sign in first.' });
      return;
    }
    if (!csrfOk(request, session)) {
      await reply.status(403).send({
        error: 'csrf',
        message: `This change needs the ${CSRF_HEADER} header of your session.`,
      });
      return;
    }
    if (role === 'admin' && session.user.role !== 'admin') {
      await reply.status(403).send({ error: 'forbidden', message: 'Only an admin may do this.' });
      return;
    }
    request.user = session.user;
  };
}
