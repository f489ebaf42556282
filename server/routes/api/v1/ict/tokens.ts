import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  ApiErrorSchema,
  CreateTokenRequestSchema,
  TokenSchema,
  UuidSchema,
} from '../../../../../shared/index.ts';
import { currentUser, requireUser } from '../../../../auth/sessions.ts';
import { namedExists } from '../../../../store/ict-admin.ts';
import {
  createEnrolmentToken,
  listEnrolmentTokens,
  revokeEnrolmentToken,
} from '../../../../store/tokens.ts';
import { refuseBadNames, signedInErrors } from './common.ts';

/** Answer to a token creation: the secret, shown this once. */
export const CreatedTokenSchema = Type.Object(
  { id: UuidSchema, token: Type.String() },
  { additionalProperties: false },
);

/** `/tokens` (admin): enrolment tokens, created, listed and revoked. */
export const tokenRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const admin = requireUser('admin');

  app.get(
    '/tokens',
    {
      onRequest: admin,
      schema: {
        summary: 'Enrolment tokens, newest first (admin)',
        tags: ['ict'],
        response: { 200: Type.Array(TokenSchema), ...signedInErrors },
      },
    },
    async () => listEnrolmentTokens(app.db),
  );

  app.post(
    '/tokens',
    {
      onRequest: admin,
      preValidation: refuseBadNames({ label: 'the label' }),
      schema: {
        summary: 'Create an enrolment token (admin); the answer holds the secret once',
        tags: ['ict'],
        body: CreateTokenRequestSchema,
        response: { 201: CreatedTokenSchema, ...signedInErrors },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const [school, group] = await Promise.all([
        namedExists(app.db, 'schools', body.schoolId),
        namedExists(app.db, 'device_groups', body.groupId),
      ]);
      if (!school || !group) {
        return reply.status(400).send({
          error: school ? 'unknown-group' : 'unknown-school',
          message: school ? 'No device group has that id.' : 'No school has that id.',
        });
      }
      const created = await createEnrolmentToken(app.db, {
        schoolId: body.schoolId,
        groupId: body.groupId,
        label: body.label,
        expiresAt: new Date(app.now().getTime() + body.expiresInDays * 86_400_000),
        maxUses: body.maxUses,
        createdBy: currentUser(request).id,
      });
      request.log.info({ tokenId: created.id }, 'enrolment token created');
      return reply.status(201).header('cache-control', 'no-store').send(created);
    },
  );

  app.post(
    '/tokens/:id/revoke',
    {
      onRequest: admin,
      schema: {
        summary: 'Revoke an enrolment token (admin)',
        tags: ['ict'],
        params: Type.Object({ id: UuidSchema }),
        response: { 204: Type.Null(), 404: ApiErrorSchema, ...signedInErrors },
      },
    },
    async (request, reply) => {
      if (!(await revokeEnrolmentToken(app.db, request.params.id))) {
        return reply.status(404).send({ error: 'not-found', message: 'No such token.' });
      }
      request.log.info({ tokenId: request.params.id }, 'enrolment token revoked');
      return reply.status(204).send(null);
    },
  );
};
