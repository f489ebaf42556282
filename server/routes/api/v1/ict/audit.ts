import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AuditListSchema, AuditQuerySchema } from '../../../../../shared/index.ts';
import { requireUser } from '../../../../auth/sessions.ts';
import { listAudit } from '../../../../store/audit-log.ts';
import { DAY_MS } from '../../../../store/read-values.ts';
import { signedInErrors } from './common.ts';

/**
 * `GET /audit` (admin): the audit log of admin actions, newest first, filtered by action, account
 * and UTC days. Admins only: it is a record of what named staff did (their accounts, policies,
 * approvals), kept to hold admins to account; a viewer reads compliance, not colleagues' work.
 * The log has no write route: rows are written by the admin routes themselves.
 */
export const auditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/audit',
    {
      onRequest: requireUser('admin'),
      schema: {
        summary: 'The audit log of admin actions, newest first (admin)',
        tags: ['ict'],
        querystring: AuditQuerySchema,
        response: { 200: AuditListSchema, ...signedInErrors },
      },
    },
    async (request, reply) => {
      const { action, actor, from, to, limit } = request.query;
      // 2026-02-30 matches the pattern but is no day: Date rolls it over, so compare back.
      const day = (text: string | undefined) =>
        text === undefined ? undefined : new Date(`${text}T00:00:00Z`);
      const real = (text: string | undefined) =>
        text === undefined || day(text)?.toISOString().slice(0, 10) === text;
      if (!real(from) || !real(to)) {
        return reply
          .status(400)
          .send({ error: 'invalid-date', message: 'That date is not in the calendar.' });
      }
      const fromAt = day(from);
      // `to` is a whole day: everything before the next midnight.
      const toAt = to === undefined ? undefined : new Date(Date.parse(`${to}T00:00:00Z`) + DAY_MS);
      if (fromAt !== undefined && toAt !== undefined && fromAt >= toAt) {
        return reply.status(400).send({
          error: 'invalid-range',
          message: 'The "from" date is after the "to" date: swap them.',
        });
      }
      void reply.header('cache-control', 'no-store');
      return listAudit(app.db, {
        ...(action === undefined ? {} : { action }),
        ...(actor === undefined ? {} : { actor }),
        ...(fromAt === undefined ? {} : { from: fromAt }),
        ...(toAt === undefined ? {} : { to: toAt }),
        limit: limit ?? 500,
      });
    },
  );
};
