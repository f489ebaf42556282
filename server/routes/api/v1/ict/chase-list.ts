import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ChaseListQuerySchema, ChaseListSchema } from '../../../../../shared/index.ts';
import { requireUser } from '../../../../auth/sessions.ts';
import { chaseList } from '../../../../store/chase-list.ts';
import { signedInErrors } from './common.ts';

/** `GET /chase-list`: failing devices to chase, longest-failing first. */
export const chaseListRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/chase-list',
    {
      onRequest: requireUser('viewer'),
      schema: {
        summary: 'Failing devices with their failing checks, failing since, last user and contact',
        tags: ['ict'],
        querystring: ChaseListQuerySchema,
        response: { 200: ChaseListSchema, ...signedInErrors },
      },
    },
    async (request) =>
      chaseList(app.db, {
        ...(request.query.schoolId === undefined ? {} : { schoolId: request.query.schoolId }),
        limit: request.query.limit ?? 1000,
      }),
  );
};
