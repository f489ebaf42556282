import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ComplianceSummarySchema } from '../../../../../shared/index.ts';
import { requireUser } from '../../../../auth/sessions.ts';
import { complianceSummary } from '../../../../store/compliance-summary.ts';
import { signedInErrors } from './common.ts';

/** `GET /summary`: compliance counts overall, per check and per school. */
export const summaryRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/summary',
    {
      onRequest: requireUser('viewer'),
      schema: {
        summary: 'Compliance summary of active devices',
        tags: ['ict'],
        querystring: Type.Object(
          { staleDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650, default: 7 })) },
          { additionalProperties: false },
        ),
        response: { 200: ComplianceSummarySchema, ...signedInErrors },
      },
    },
    async (request) => complianceSummary(app.db, request.query.staleDays ?? 7, app.now()),
  );
};
