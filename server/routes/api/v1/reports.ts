import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  ApiErrorSchema,
  IngestResponseSchema,
  ReportBatchSchema,
} from '../../../../shared/index.ts';
import { requireDevice } from '../../../auth/device-auth.ts';
import { ingestBatch } from '../../../store/ingest.ts';

/** `POST /reports`: a batch of reports and events, stored idempotently by id. */
export const reportsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // Back-pressure: beyond this many batches in flight on this instance, ask devices to come back
  // later rather than queue without bound (devices honour Retry-After with jittered back-off).
  let inFlight = 0;
  app.post(
    '/reports',
    {
      preValidation: requireDevice,
      schema: {
        summary: 'Deliver reports and events from the outbox',
        body: ReportBatchSchema,
        response: {
          200: IngestResponseSchema,
          400: ApiErrorSchema,
          401: ApiErrorSchema,
          429: ApiErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const deviceId = request.deviceId;
      if (deviceId === null) {
        throw new Error('requireDevice did not set the device');
      }
      if (inFlight >= app.config.ingestConcurrency) {
        void reply.header('retry-after', String(5 + Math.floor(Math.random() * 25)));
        return reply
          .status(429)
          .send({ error: 'busy', message: 'The server is busy; retry later.' });
      }
      inFlight++;
      try {
        const now = app.now();
        // One statement, so atomic without a transaction around it.
        const accepted = await ingestBatch(app.db, deviceId, request.body, now);
        return { accepted, serverTime: now.toISOString() };
      } finally {
        inFlight--;
      }
    },
  );
};
