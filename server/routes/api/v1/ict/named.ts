// Schools and device groups are both named rows with the same list, create and rename routes.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  ApiErrorSchema,
  NamedSchema,
  OrganisationSchema,
  RenamedGroupSchema,
  RenameRequestSchema,
  UuidSchema,
} from '../../../../../shared/index.ts';
import { currentUser, requireUser } from '../../../../auth/sessions.ts';
import { recordAudit } from '../../../../store/audit-log.ts';
import {
  aupRulesNamingOnly,
  createNamed,
  isUniqueViolation,
  renameNamed,
  type AupRuleNaming,
} from '../../../../store/ict-admin.ts';
import { listOrganisation } from '../../../../store/organisation.ts';
import { refuseBadNames, signedInErrors } from './common.ts';

/** Body of `POST /schools` and `POST /groups`: a name without leading or trailing spaces. */
export const CreateNamedRequestSchema = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 200, pattern: '^\\S(.*\\S)?$' }) },
  { additionalProperties: false },
);

/** `GET`, `POST` and `PUT /:id/name` of `/schools` or `/groups`. */
export function namedRoutes(
  path: '/schools' | '/groups',
  table: 'schools' | 'device_groups',
  noun: string,
): FastifyPluginAsyncTypebox {
  const school = table === 'schools';
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
              action: school ? 'school.create' : 'group.create',
              targetType: school ? 'school' : 'device-group',
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

    app.put(
      `${path}/:id/name`,
      {
        onRequest: requireUser('admin'),
        preValidation: refuseBadNames({ name: 'the name' }),
        schema: {
          summary: `Rename a ${noun} (admin)`,
          tags: ['ict'],
          params: Type.Object({ id: UuidSchema }),
          body: RenameRequestSchema,
          response: {
            200: school ? NamedSchema : RenamedGroupSchema,
            404: ApiErrorSchema,
            409: ApiErrorSchema,
            ...signedInErrors,
          },
        },
      },
      async (request, reply) => {
        const user = currentUser(request);
        const now = app.now();
        const { id } = request.params;
        const { name } = request.body;
        let renamed: { id: string; name: string; rules: AupRuleNaming[] } | null;
        try {
          renamed = await app.db.transaction(async (tx) => {
            const done = await renameNamed(tx, table, id, name);
            if (done === null) {
              return null;
            }
            // Renaming to the name it has changes nothing, and so leaves no audit row.
            if (done.changed) {
              await recordAudit(tx, {
                actor: user,
                action: school ? 'school.rename' : 'group.rename',
                targetType: school ? 'school' : 'device-group',
                targetId: id,
                before: done.before,
                after: done.after,
                at: now,
              });
            }
            const rules =
              school || !done.changed ? [] : await aupRulesNamingOnly(tx, done.before.name, name);
            return { ...done.after, rules };
          });
        } catch (error) {
          if (!isUniqueViolation(error)) {
            throw error;
          }
          return reply
            .status(409)
            .send({ error: 'exists', message: `Another ${noun} has that name already.` });
        }
        if (renamed === null) {
          return reply.status(404).send({ error: 'not-found', message: `No ${noun} has that id.` });
        }
        request.log.info({ table, id }, 'renamed');
        const { rules, ...row } = renamed;
        return school ? row : { ...row, aupRulesNamingOldName: rules };
      },
    );
  };
}

/** `GET /organisation`: the schools and groups page's list, with device counts (any account). */
export const organisationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/organisation',
    {
      onRequest: requireUser('viewer'),
      schema: {
        summary: 'Every school and device group, by name, with its active devices counted',
        tags: ['ict'],
        response: { 200: OrganisationSchema, ...signedInErrors },
      },
    },
    async () => listOrganisation(app.db),
  );
};
