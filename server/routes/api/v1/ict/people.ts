import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  PersonExportQuerySchema,
  PersonExportSchema,
  PersonNameSchema,
  PersonNamesSchema,
} from '../../../../../shared/index.ts';
import { currentUser, requireUser, type AuthHook } from '../../../../auth/sessions.ts';
import { recordAudit } from '../../../../store/audit-log.ts';
import { aupUserKey } from '../../../../store/aup-records.ts';
import { personExport, relatedNames } from '../../../../store/person-export.ts';
import { signedInErrors } from './common.ts';

/** Most characters of a name the server will look up: the longest name an event may carry. */
const NAME_MAX = 256;

/**
 * preValidation: a name that cannot be a console user's is told so in plain words, before the
 * schema would say "must match pattern". The name is never echoed back: it may be 10 kB of
 * anything.
 */
const refuseImpossibleNames: AuthHook = async (request, reply) => {
  const user = (request.query as Record<string, unknown> | null)?.['user'];
  if (typeof user !== 'string') {
    return;
  }
  const problem =
    user.length === 0
      ? 'Type the user name to export.'
      : user.length > NAME_MAX
        ? `A user name is at most ${String(NAME_MAX)} characters; this one is ${String(user.length)}.`
        : /\p{Cc}/u.test(user)
          ? 'A user name has no control characters (no device records one with them).'
          : null;
  if (problem !== null) {
    await reply.status(400).send({ error: 'invalid-name', message: problem });
  }
};

/** A file name for the download: the key's safe characters only, so no header can be forged. */
function fileName(key: string): string {
  const safe = key.replace(/[^a-z0-9._-]+/g, '-').slice(0, 60);
  return `hallpass-subject-access-${safe === '' ? 'user' : safe}.json`;
}

/**
 * `GET /people/export?user=` (admin): a subject access export (UK GDPR Article 15) of one console
 * user. The name travels in the query, not the path: Windows names hold a backslash, which URL
 * parsers turn into a path separator unless it is escaped, and Fastify cuts path parameters at
 * 100 characters where names run to 256. Admins only, and every export is in the audit log (who
 * asked, whose data, how much) in the same transaction that reads the data: no export without its
 * row. A GET that writes the audit log is still safe to repeat; it changes no data.
 */
export const peopleRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/people/export',
    {
      onRequest: requireUser('admin'),
      preValidation: refuseImpossibleNames,
      schema: {
        summary: 'Everything held about one console user, as a JSON download (admin, audited)',
        tags: ['ict'],
        querystring: PersonExportQuerySchema,
        response: { 200: PersonExportSchema, ...signedInErrors },
      },
    },
    async (request, reply) => {
      const actor = currentUser(request);
      const { user, eventsFrom } = request.query;
      const now = app.now();
      const exported = await app.db.transaction(async (tx) => {
        const found = await personExport(tx, {
          user,
          eventsFrom: eventsFrom === undefined ? null : new Date(eventsFrom),
          askedBy: actor.username,
          now,
        });
        const key = aupUserKey(user);
        await recordAudit(tx, {
          actor,
          action: 'person.export',
          targetType: 'person',
          // The column holds 200 characters; the whole name is in `after`.
          targetId: key.slice(0, 200),
          before: null,
          after: {
            user,
            eventsFrom: found.events.from,
            aupRecords: found.aup.items.length,
            events: found.events.items.length,
            eventsTruncated: found.events.truncated,
            seenAtSchools: found.seen.length,
            consoleUserOf: found.consoleUserOf.length,
          },
          at: now,
        });
        return found;
      });
      request.log.info(
        { aupRecords: exported.aup.items.length, events: exported.events.items.length },
        'subject access export',
      );
      return reply
        .header('content-disposition', `attachment; filename="${fileName(exported.userKey)}"`)
        .header('cache-control', 'no-store')
        .send(exported);
    },
  );

  app.get(
    '/people/names',
    {
      onRequest: requireUser('admin'),
      preValidation: refuseImpossibleNames,
      schema: {
        summary: 'Other names seen with the same account part, to export separately (admin)',
        tags: ['ict'],
        querystring: Type.Object({ user: PersonNameSchema }, { additionalProperties: false }),
        response: { 200: PersonNamesSchema, ...signedInErrors },
      },
    },
    async (request) => ({
      user: request.query.user,
      names: await relatedNames(app.db, request.query.user),
    }),
  );
};
