import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  ApiErrorSchema,
  IngestResponseSchema,
  ReportBatchSchema,
} from '../../../../shared/index.ts';
import { requireDevice } from '../../../auth/device-auth.ts';
import { IngestAdmission } from '../../../ingest-admission.ts';
import { ingestBatch } from '../../../store/ingest.ts';

/** `POST /reports`: a batch of reports and events, stored idempotently by id. */
export const reportsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // Back-pressure that follows what PostgreSQL absorbs (server/ingest-admission.ts): an adaptive
  // limit of batches in flight on this instance, a short queue with a deadline, and for what is
  // refused a Retry-After from the measured drain rate (devices honour it, lightly jittered).
  const admission = new IngestAdmission(
    {
      maxLimit: app.config.ingestConcurrency,
      // Never below the database pool's 10 connections: fewer would leave PostgreSQL idle while
      // batches wait, and a batch's latency also holds this process's own event-loop delay (a
      // storm's signature checks and body parsing), which a smaller limit does not cure.
      initialLimit: Math.min(16, app.config.ingestConcurrency),
      minLimit: Math.min(10, app.config.ingestConcurrency),
      queueLength: app.config.ingestQueueLength,
      queueWaitMs: app.config.ingestQueueWaitMs,
    },
    {
      now: () => performance.now(),
      setTimeout: (task, ms) => setTimeout(task, ms),
      clearTimeout: (handle) => {
        clearTimeout(handle as NodeJS.Timeout);
      },
    },
  );
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
      const ticket = await admission.admit();
      if (!ticket.admitted) {
        void reply.header('retry-after', String(ticket.retryAfterSeconds));
        return reply
          .status(429)
          .send({ error: 'busy', message: 'The server is busy; retry later.' });
      }
      try {
        const now = app.now();
        // One statement, so atomic without a transaction around it.
        const accepted = await ingestBatch(app.db, deviceId, request.body, now, {
          keep: app.config.reportStorage,
          retentionDays: app.config.reportRetentionDays,
        });
        return { accepted, serverTime: now.toISOString() };
      } finally {
        ticket.done();
      }
    },
  );
};
