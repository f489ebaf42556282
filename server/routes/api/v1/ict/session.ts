import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ApiErrorSchema, SessionSchema, SignInRequestSchema } from '../../../../../shared/index.ts';
import {
  clearLoginFailures,
  loginWait,
  recordLoginFailure,
} from '../../../../auth/login-limits.ts';
import { hashPassword, verifyPassword } from '../../../../auth/passwords.ts';
import {
  createSession,
  deleteSession,
  findSession,
  requireUser,
  sessionCookie,
} from '../../../../auth/sessions.ts';
import { findUser } from '../../../../store/users.ts';

// An unknown username still costs one scrypt verification, so the answer's timing does not
// tell an attacker which usernames exist. Made once, on first need.
let dummyHash: Promise<string> | null = null;
const getDummyHash = (): Promise<string> =>
  (dummyHash ??= hashPassword(randomBytes(18).toString('base64url')));

/** `/session`: sign in, who am I, sign out. */
export const sessionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/session',
    {
      schema: {
        summary: 'Sign in (sets the hallpass_session cookie)',
        tags: ['ict'],
        body: SignInRequestSchema,
        response: {
          200: SessionSchema,
          400: ApiErrorSchema,
          401: ApiErrorSchema,
          429: ApiErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const { username, password } = request.body;
      const now = app.now();
      void reply.header('cache-control', 'no-store');
      const wait = await loginWait(app.db, username, request.ip, now);
      if (wait > 0) {
        request.log.warn({ wait }, 'sign-in rate limited');
        return reply
          .status(429)
          .header('retry-after', String(wait))
          .send({
            error: 'too-many-attempts',
            message: `Too many failed sign-ins. Try again in ${Math.ceil(wait / 60)} minute(s).`,
          });
      }
      const user = await findUser(app.db, username);
      const ok = await verifyPassword(password, user?.password_hash ?? (await getDummyHash()));
      if (user === null || !ok) {
        await recordLoginFailure(app.db, username, request.ip, now);
        return reply
          .status(401)
          .send({ error: 'bad-credentials', message: 'Wrong username or password.' });
      }
      await clearLoginFailures(app.db, username);
      const session = await createSession(app.db, user.id, now, app.config.sessionHours);
      request.log.info({ userId: user.id }, 'signed in');
      void reply.header(
        'set-cookie',
        sessionCookie(session.id, {
          secure: request.protocol === 'https',
          maxAgeSeconds: app.config.sessionHours * 3600,
        }),
      );
      return { username: user.username, role: user.role, csrfToken: session.csrfToken };
    },
  );

  app.get(
    '/session',
    {
      schema: {
        summary: 'The signed-in account and its CSRF token',
        tags: ['ict'],
        response: { 200: SessionSchema, 401: ApiErrorSchema },
      },
    },
    async (request, reply) => {
      void reply.header('cache-control', 'no-store');
      const session = await findSession(request);
      if (session === null) {
        return reply.status(401).send({ error: 'unauthenticated', message: 'Sign in first.' });
      }
      return {
        username: session.user.username,
        role: session.user.role,
        csrfToken: session.csrfToken,
      };
    },
  );

  app.delete(
    '/session',
    {
      onRequest: requireUser('viewer'),
      schema: {
        summary: 'Sign out',
        tags: ['ict'],
        response: { 204: Type.Null(), 401: ApiErrorSchema, 403: ApiErrorSchema },
      },
    },
    async (request, reply) => {
      const session = await findSession(request);
      if (session !== null) {
        await deleteSession(app.db, session.idHash);
      }
      return reply
        .status(204)
        .header(
          'set-cookie',
          sessionCookie(null, { secure: request.protocol === 'https', maxAgeSeconds: 0 }),
        )
        .send(null);
    },
  );
};
