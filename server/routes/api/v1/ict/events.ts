import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { EventListSchema, UuidSchema } from '../../../../../shared/index.ts';
import { requireUser } from '../../../../auth/sessions.ts';
import { listEvents } from '../../../../store/device-detail.ts';
import { signedInErrors } from './common.ts';

/** Query of `GET /events`. */
export const EventListQuerySchema = Type.Object(
  {
    deviceId: Type.Optional(UuidSchema),
    type: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000, default: 0 })),
  },
  { additionalProperties: false },
);

/** `GET /events`: stored device events, newest first. */
export const eventRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/events',
    {
      onRequest: requireUser('viewer'),
      schema: {
        summary: 'Device events, newest first',
        tags: ['ict'],
        querystring: EventListQuerySchema,
        response: { 200: EventListSchema, ...signedInErrors },
      },
    },
    async (request) => listEvents(app.db, request.query),
  );
};
