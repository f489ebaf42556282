import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import {
  ApiErrorSchema,
  IngestResponseSchema,
  REPORT_DIGEST_HEADER,
  ReportBatchSchema,
} from '../../../../shared/index.ts';
import { requireDevice } from '../../../auth/device-auth.ts';
import { IngestAdmission } from '../../../ingest-admission.ts';
import { chainProblem, ingestDeltaBatch, ingestFullBatch } from '../../../store/ingest.ts';
import { TurnGate } from '../../../turn-gate.ts';

/** Requests of a storm read and checked per turn of the event loop (about 1 ms each here). */
const INTAKE_PER_TURN = 16;

// Response headers, for the OpenAPI document (@fastify/swagger reads `headers` beside a response's
// schema; the serialiser ignores it).
const DIGEST_HEADER = {
  [REPORT_DIGEST_HEADER]: {
    type: 'string',
    pattern: '^[0-9a-f]{64}$',
    description:
      "The SHA-256 (hex) of the device's last report the server now holds, when it takes deltas: " +
      'the base for the next delta. Absent while the server keeps every report in full.',
  },
} as const;
const RETRY_AFTER_HEADER = {
  'retry-after': {
    type: 'integer',
    minimum: 1,
    description:
      'Seconds to wait before sending the batch again, planned from the measured drain rate.',
  },
} as const;

/** The 429 for a batch the admission refused, with when to come back. */
function busy(reply: FastifyReply, retryAfterSeconds: number): FastifyReply {
  void reply.header('retry-after', String(retryAfterSeconds));
  return reply.status(429).send({ error: 'busy', message: 'The server is busy; retry later.' });
}

/**
 * `POST /reports`: a batch of reports (full, or as deltas from the last report the server holds)
 * and events, stored idempotently by id. Every 200 names, in the `Hallpass-Report-Digest` header,
 * the digest of the device's last report the server now holds, when it takes deltas; a delta
 * batch whose base it does not hold is refused whole with 409 `report-base-mismatch`, and the
 * device sends the same items in full.
 */
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
  // At most a few storm requests are read and checked per turn of the event loop, so PostgreSQL's
  // answers for admitted batches are not held up behind thousands of them (server/turn-gate.ts).
  const intake = new TurnGate(
    INTAKE_PER_TURN,
    () => new Promise<void>((resolve) => setImmediate(resolve)),
  );
  app.post(
    '/reports',
    {
      // Before the body is read: wait for a turn with room, then refuse at once, without reading
      // or checking the body, a batch the queue could not hold. Such a refusal costs little more
      // than its headers, and that is most of a storm's first second.
      preParsing: async (_request, reply, payload) => {
        // Those waiting for a turn count as queued: when they already fill the queue, this one
        // is refused on arrival instead of after waiting its turn to be told so.
        const refusedOnArrival = admission.refuseNow(intake.waiting);
        if (refusedOnArrival !== null) {
          busy(reply, refusedOnArrival.retryAfterSeconds);
          return payload;
        }
        await intake.pass();
        const refused = admission.refuseNow();
        if (refused !== null) {
          busy(reply, refused.retryAfterSeconds);
        }
        return payload;
      },
      preValidation: requireDevice,
      schema: {
        summary: 'Deliver reports and events from the outbox',
        body: ReportBatchSchema,
        response: {
          200: { ...IngestResponseSchema, headers: DIGEST_HEADER },
          400: ApiErrorSchema,
          401: ApiErrorSchema,
          409: { ...ApiErrorSchema, headers: DIGEST_HEADER },
          429: { ...ApiErrorSchema, headers: RETRY_AFTER_HEADER },
        },
      },
    },
    async (request, reply) => {
      const deviceId = request.deviceId;
      if (deviceId === null) {
        throw new Error('requireDevice did not set the device');
      }
      // A malformed chain is refused before it takes a place in the admission queue.
      const problem = chainProblem(request.body);
      if (problem !== null) {
        return reply.status(400).send({ error: 'invalid-request', message: problem });
      }
      const ticket = await admission.admit();
      if (!ticket.admitted) {
        return busy(reply, ticket.retryAfterSeconds);
      }
      try {
        const now = app.now();
        const storage = {
          keep: app.config.reportStorage,
          retentionDays: app.config.reportRetentionDays,
        };
        // Each path is one statement, so atomic without a transaction around it.
        if ((request.body.deltas ?? []).length === 0) {
          const outcome = await ingestFullBatch(app.db, deviceId, request.body, now, storage);
          if (outcome.heldDigest !== null) {
            void reply.header(REPORT_DIGEST_HEADER, outcome.heldDigest);
          }
          return { accepted: outcome.accepted, serverTime: now.toISOString() };
        }
        const outcome =
          storage.keep === 'all'
            ? { kind: 'base-mismatch' as const, heldDigest: null }
            : await ingestDeltaBatch(app.db, deviceId, request.body, now, storage.retentionDays);
        if (outcome.heldDigest !== null) {
          void reply.header(REPORT_DIGEST_HEADER, outcome.heldDigest);
        }
        if (outcome.kind === 'base-mismatch') {
          void reply.status(409);
          return {
            error: 'report-base-mismatch',
            message:
              storage.keep === 'all'
                ? 'This server keeps every report in full; send the reports in full.'
                : 'The server does not hold the report these deltas start from; send the ' +
                  'reports in full.',
            serverTime: now.toISOString(),
          };
        }
        return { accepted: outcome.accepted, serverTime: now.toISOString() };
      } finally {
        ticket.done();
      }
    },
  );
};
