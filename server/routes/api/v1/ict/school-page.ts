import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  ApiErrorSchema,
  SchoolPageQuerySchema,
  SchoolPageSchema,
  UuidSchema,
} from '../../../../../shared/index.ts';
import { requireUser } from '../../../../auth/sessions.ts';
import { schoolPage } from '../../../../store/school-page.ts';
import { signedInErrors } from './common.ts';

/** `GET /schools/:id/compliance`: everything the dashboard's school page shows. */
export const schoolPageRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/schools/:id/compliance',
    {
      onRequest: requireUser('viewer'),
      schema: {
        summary:
          'One school: compliance per check, daily trend, stale and never-reported devices, oldest failures',
        tags: ['ict'],
        params: Type.Object({ id: UuidSchema }),
        querystring: SchoolPageQuerySchema,
        response: { 200: SchoolPageSchema, 404: ApiErrorSchema, ...signedInErrors },
      },
    },
    async (request, reply) => {
      const page = await schoolPage(
        app.db,
        request.params.id,
        request.query.staleDays ?? 7,
        app.now(),
      );
      if (page === null) {
        return reply.status(404).send({ error: 'not-found', message: 'No such school.' });
      }
      return page;
    },
  );
};
