import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { CheckIdSchema, TrendQuerySchema, TrendSchema } from '../../../../../shared/index.ts';
import { requireUser } from '../../../../auth/sessions.ts';
import { complianceTrend } from '../../../../store/compliance-snapshots.ts';
import { signedInErrors } from './common.ts';

/** The check ids the schema knows. */
const CHECK_IDS: readonly string[] = CheckIdSchema.anyOf.map((literal) => literal.const);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Why `id` does not fit `scope`, or null when it does. */
function idProblem(scope: 'trust' | 'school' | 'check', id: string | undefined): string | null {
  switch (scope) {
    case 'trust':
      return id === undefined ? null : 'The trust trend takes no id.';
    case 'school':
      return id !== undefined && UUID.test(id) ? null : 'A school trend needs the school’s id.';
    case 'check':
      return id !== undefined && CHECK_IDS.includes(id) ? null : 'A check trend needs a check id.';
  }
}

/** `GET /trends`: daily compliance counts of the trust, a school or a check. */
export const trendRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/trends',
    {
      onRequest: requireUser('viewer'),
      schema: {
        summary: 'Daily compliance counts (from the daily snapshots), oldest day first',
        tags: ['ict'],
        querystring: TrendQuerySchema,
        response: { 200: TrendSchema, ...signedInErrors },
      },
    },
    async (request, reply) => {
      const { scope, id, days } = request.query;
      const problem = idProblem(scope, id);
      if (problem !== null) {
        return reply.status(400).send({ error: 'invalid-request', message: problem });
      }
      return complianceTrend(app.db, scope, id ?? null, days ?? 400, app.now());
    },
  );
};
