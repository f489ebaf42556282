import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ApiErrorSchema, SessionSchema, SignInRequestSchema } from '../../../../../shared/index.ts';
import {
  knownDeviceCookie,
  knownDeviceFor,
  rememberDevice,
} from '../../../../auth/known-devices.ts';
import { attemptSucceeded, reserveAttempt, throttleKeys } from '../../../../auth/login-limits.ts';
import { UNMATCHABLE_HASH, verifyPassword } from '../../../../auth/passwords.ts';
import {
  createSession,
  deleteSession,
  findSession,
  requireUser,
  sessionCookie,
} from '../../../../auth/sessions.ts';
import { recordSignIn } from '../../../../store/accounts.ts';
import { findUser } from '../../../../store/users.ts';

/** "1 minute", "5 seconds": how long to wait, for a person. */
function waitText(seconds: number): string {
  const [n, unit] = seconds < 60 ? [seconds, 'second'] : [Math.ceil(seconds / 60), 'minute'];
  return `${String(n)} ${unit}${n === 1 ? '' : 's'}`;
}

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
      void reply.header('cache-control', 'no-store');
      // A place among this process's password checks first: a flood is turned away here, before
      // it costs a database round trip or a byte of scrypt memory (auth/hash-gate.ts).
      const place = app.hashGate.tryEnter();
      if (place === null) {
        request.log.warn('sign-in refused: password checks busy');
        return reply
          .status(429)
          .header('retry-after', '5')
          .send({ error: 'busy', message: 'The server is busy. Try again in a few seconds.' });
      }
      try {
        const now = app.now();
        const device = await knownDeviceFor(app.db, request.headers.cookie, username, now);
        const keys = throttleKeys(username, request.ip, device);
        const reservation = await reserveAttempt(app.db, keys, now);
        if (!reservation.ok) {
          request.log.warn({ wait: reservation.waitSeconds }, 'sign-in throttled');
          return await reply
            .status(429)
            .header('retry-after', String(reservation.waitSeconds))
            .send({
              error: 'too-many-attempts',
              message: `Too many failed sign-ins. Try again in ${waitText(reservation.waitSeconds)}.`,
            });
        }
        const user = await findUser(app.db, username);
        const ok = await place.run(() =>
          verifyPassword(password, user?.password_hash ?? UNMATCHABLE_HASH),
        );
        if (user === null || !ok) {
          return await reply
            .status(401)
            .send({ error: 'bad-credentials', message: 'Wrong username or password.' });
        }
        await attemptSucceeded(app.db, reservation.ids, keys);
        const session = await createSession(
          app.db,
          { id: user.id, generation: user.session_generation },
          now,
          app.config.sessionHours,
        );
        if (session === null) {
          // Disabled, or its password reset, while this one was being checked: it no longer holds.
          return await reply
            .status(401)
            .send({ error: 'bad-credentials', message: 'Wrong username or password.' });
        }
        await recordSignIn(app.db, user.id, now);
        const secure = request.protocol === 'https';
        const cookies = [
          sessionCookie(session.id, { secure, maxAgeSeconds: app.config.sessionHours * 3600 }),
        ];
        if (device === null) {
          cookies.push(knownDeviceCookie(await rememberDevice(app.db, user.username, now), secure));
        }
        request.log.info({ userId: user.id, knownDevice: device !== null }, 'signed in');
        void reply.header('set-cookie', cookies);
        return { username: user.username, role: user.role, csrfToken: session.csrfToken };
      } finally {
        place.leave();
      }
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
