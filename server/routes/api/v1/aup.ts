import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ApiErrorSchema, AupSignaturesResponseSchema } from '../../../../shared/index.ts';
import { requireDevice } from '../../../auth/device-auth.ts';
import { signaturesForDevice } from '../../../store/aup-records.ts';
import { hasNul } from './ict/common.ts';

/** Query of `GET /aup/signatures`. */
export const AupSignaturesQuerySchema = Type.Object(
  { user: Type.String({ minLength: 1, maxLength: 256 }) },
  { additionalProperties: false },
);

/**
 * `GET /aup/signatures?user=<name>`: the AUP documents this user signed on any device (and the
 * device contracts they signed on this one), so a user who signed elsewhere is not asked again.
 */
export const aupRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/aup/signatures',
    {
      preValidation: async (request, reply) => {
        await requireDevice(request, reply);
        // PostgreSQL text cannot hold U+0000: refuse it here rather than as a database error.
        if (!reply.sent && hasNul(request.query)) {
          await reply
            .status(400)
            .send({ error: 'invalid-request', message: 'The user name may not contain NUL.' });
        }
      },
      schema: {
        summary: "A user's AUP signatures made anywhere in the trust (contracts: this device)",
        querystring: AupSignaturesQuerySchema,
        response: { 200: AupSignaturesResponseSchema, 400: ApiErrorSchema, 401: ApiErrorSchema },
      },
    },
    async (request) => {
      const deviceId = request.deviceId;
      if (deviceId === null) {
        throw new Error('requireDevice did not set the device');
      }
      const { user } = request.query;
      return {
        user,
        signatures: await signaturesForDevice(app.db, deviceId, user),
        serverTime: app.now().toISOString(),
      };
    },
  );
};
