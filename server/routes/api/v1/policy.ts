import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ApiErrorSchema, PolicySchema } from '../../../../shared/index.ts';
import { requireDevice } from '../../../auth/device-auth.ts';
import { currentPolicy } from '../../../store/policies.ts';

/** `GET /policy`: the signed-in device's group policy, with ETag and 304. */
export const policyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/policy',
    {
      preValidation: requireDevice,
      schema: {
        summary: "The policy of the device's group",
        headers: Type.Object({ 'if-none-match': Type.Optional(Type.String({ maxLength: 200 })) }),
        response: {
          200: PolicySchema,
          304: Type.Null(),
          401: ApiErrorSchema,
          404: ApiErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const rows = await app.db.query<{ group_id: string }>(
        'select group_id from devices where id = $1',
        [request.deviceId],
      );
      const groupId = rows[0]?.group_id;
      const policy = groupId === undefined ? null : await currentPolicy(app.db, groupId);
      if (policy === null) {
        return reply.status(404).send({
          error: 'no-policy',
          message: 'ICT has not set a policy for this device group yet.',
        });
      }
      void reply.header('etag', policy.etag).header('cache-control', 'no-cache');
      if (request.headers['if-none-match'] === policy.etag) {
        return reply.status(304).send(null);
      }
      return reply.status(200).send(policy.document);
    },
  );
};
