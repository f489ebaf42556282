// Schools and device groups are both named rows with the same list and create routes.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ApiErrorSchema, NamedSchema } from '../../../../../shared/index.ts';
import { currentUser, requireUser } from '../../../../auth/sessions.ts';
import { recordAudit } from '../../../../store/audit-log.ts';
import { createNamed } from '../../../../store/ict-admin.ts';
import { refuseBadNames, signedInErrors } from './common.ts';

/** Body of `POST /schools` and `POST /groups`: a name without leading or trailing spaces. */
export const CreateNamedRequestSchema = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 200, pattern: '^\\S(.*\\S)?$' }) },
  { additionalProperties: false },
);

/** `GET` and `POST` of `/schools` or `/groups`. */
export function namedRoutes(
  path: '/schools' | '/groups',
  table: 'schools' | 'device_groups',
  noun: string,
): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      path,
      {
        onRequest: requireUser('viewer'),
        schema: {
          summary: `Every ${noun}, by name`,
          tags: ['ict'],
          response: { 200: Type.Array(NamedSchema), ...signedInErrors },
        },
      },
      async () =>
        app.db.query<{ id: string; name: string }>(
          `select id, name from ${table} order by name, id`,
        ),
    );

    app.post(
      path,
      {
        onRequest: requireUser('admin'),
        preValidation: refuseBadNames({ name: 'the name' }),
        schema: {
          summary: `Create a ${noun} (admin)`,
          tags: ['ict'],
          body: CreateNamedRequestSchema,
          response: { 201: NamedSchema, 409: ApiErrorSchema, ...signedInErrors },
        },
      },
      async (request, reply) => {
        const user = currentUser(request);
        const now = app.now();
        const row = await app.db.transaction(async (tx) => {
          const made = await createNamed(tx, table, request.body.name);
          if (made !== null) {
            await recordAudit(tx, {
              actor: user,
              action: table === 'schools' ? 'school.create' : 'group.create',
              targetType: table === 'schools' ? 'school' : 'device-group',
              targetId: made.id,
              before: null,
              after: made,
              at: now,
            });
          }
          return made;
        });
        if (row === null) {
          return reply
            .status(409)
            .send({ error: 'exists', message: `A ${noun} of that name exists already.` });
        }
        request.log.info({ table, id: row.id }, 'created');
        return reply.status(201).send(row);
      },
    );
  };
}
