import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ApiErrorSchema, RoleSchema, UuidSchema } from '../../../../../shared/index.ts';
import { currentUser, requireUser } from '../../../../auth/sessions.ts';
import { recordAudit } from '../../../../store/audit-log.ts';
import { createUser, UserError } from '../../../../store/users.ts';
import { signedInErrors } from './common.ts';

/** Body of `POST /users`. The store checks the username's characters and the password's length. */
export const CreateUserRequestSchema = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 100 }),
    password: Type.String({ minLength: 1, maxLength: 200 }),
    role: RoleSchema,
  },
  { additionalProperties: false },
);

/** An account as created (never its password or hash). */
export const CreatedUserSchema = Type.Object(
  { id: UuidSchema, username: Type.String(), role: RoleSchema },
  { additionalProperties: false },
);

/** `POST /users` (admin): creates a local ICT account. */
export const userRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/users',
    {
      onRequest: requireUser('admin'),
      schema: {
        summary: 'Create an ICT account (admin)',
        tags: ['ict'],
        body: CreateUserRequestSchema,
        response: {
          201: CreatedUserSchema,
          409: ApiErrorSchema,
          429: ApiErrorSchema,
          ...signedInErrors,
        },
      },
    },
    async (request, reply) => {
      const { username, password, role } = request.body;
      // Hashing the new password is a 128 MiB scrypt: it takes a place among sign-in checks.
      const place = app.hashGate.tryEnter();
      if (place === null) {
        return reply
          .status(429)
          .header('retry-after', '5')
          .send({ error: 'busy', message: 'The server is busy. Try again in a few seconds.' });
      }
      try {
        const actor = currentUser(request);
        const now = app.now();
        // The account and its audit row commit together. The hash is worked out inside the
        // transaction (createUser hashes, then inserts): a pooled connection waits for it, once.
        const { id } = await place.run(() =>
          app.db.transaction(async (tx) => {
            const created = await createUser(tx, { username, password, role });
            await recordAudit(tx, {
              actor,
              action: 'user.create',
              targetType: 'user',
              targetId: created.id,
              before: null,
              // Who and what role: never the password or its hash.
              after: { id: created.id, username, role },
              at: now,
            });
            return created;
          }),
        );
        request.log.info({ userId: id, role }, 'account created');
        return await reply.status(201).send({ id, username, role });
      } catch (error) {
        if (!(error instanceof UserError)) {
          throw error;
        }
        const exists = error.message.includes('already exists');
        return await reply
          .status(exists ? 409 : 400)
          .send({ error: exists ? 'exists' : 'invalid-user', message: error.message });
      } finally {
        place.leave();
      }
    },
  );
};
