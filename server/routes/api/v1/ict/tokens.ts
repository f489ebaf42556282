import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  ApiErrorSchema,
  CreateTokenRequestSchema,
  TokenSchema,
  UuidSchema,
} from '../../../../../shared/index.ts';
import { currentUser, requireUser } from '../../../../auth/sessions.ts';
import { recordAudit } from '../../../../store/audit-log.ts';
import { namedExists } from '../../../../store/ict-admin.ts';
import {
  createEnrolmentToken,
  findEnrolmentToken,
  listEnrolmentTokens,
  revokeEnrolmentToken,
} from '../../../../store/tokens.ts';
import { refuseBadNames, signedInErrors } from './common.ts';

/** Answer to a token creation: the secret, shown this once. */
export const CreatedTokenSchema = Type.Object(
  { id: UuidSchema, token: Type.String() },
  { additionalProperties: false },
);

/**
 * `/tokens`: enrolment tokens, listed (any account: the list holds no secret), created and
 * revoked (admin). Each change is written to the audit log in its own transaction.
 */
export const tokenRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const admin = requireUser('admin');

  app.get(
    '/tokens',
    {
      onRequest: requireUser('viewer'),
      schema: {
        summary: 'Enrolment tokens, newest first, without their secrets',
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
      const user = currentUser(request);
      const now = app.now();
      const created = await app.db.transaction(async (tx) => {
        const school = await namedExists(tx, 'schools', body.schoolId);
        const group = await namedExists(tx, 'device_groups', body.groupId);
        if (!school || !group) {
          return school ? ('unknown-group' as const) : ('unknown-school' as const);
        }
        const made = await createEnrolmentToken(tx, {
          schoolId: body.schoolId,
          groupId: body.groupId,
          label: body.label,
          expiresAt: new Date(now.getTime() + body.expiresInDays * 86_400_000),
          maxUses: body.maxUses,
          createdBy: user.id,
        });
        await recordAudit(tx, {
          actor: user,
          action: 'token.create',
          targetType: 'enrolment-token',
          targetId: made.id,
          before: null,
          // The token as listed: never its secret.
          after: await findEnrolmentToken(tx, made.id),
          at: now,
        });
        return made;
      });
      if (typeof created === 'string') {
        return reply.status(400).send({
          error: created,
          message:
            created === 'unknown-group' ? 'No device group has that id.' : 'No school has that id.',
        });
      }
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
      const { id } = request.params;
      const user = currentUser(request);
      const now = app.now();
      const found = await app.db.transaction(async (tx) => {
        const before = await findEnrolmentToken(tx, id, { lock: true });
        if (before === null) {
          return false;
        }
        // Revoking a revoked token changes nothing, so it leaves no audit row either.
        if (before.revokedAt === null) {
          await revokeEnrolmentToken(tx, id, now);
          await recordAudit(tx, {
            actor: user,
            action: 'token.revoke',
            targetType: 'enrolment-token',
            targetId: id,
            before,
            after: await findEnrolmentToken(tx, id),
            at: now,
          });
        }
        return true;
      });
      if (!found) {
        return reply.status(404).send({ error: 'not-found', message: 'No such token.' });
      }
      request.log.info({ tokenId: request.params.id }, 'enrolment token revoked');
      return reply.status(204).send(null);
    },
  );
};
