import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  ApiErrorSchema,
  DEVICE_GROUP_HEADER,
  encodeDeviceGroup,
  PolicySchema,
} from '../../../../shared/index.ts';
import { requireDevice } from '../../../auth/device-auth.ts';
import { policyForDevice } from '../../../store/device-policy.ts';

/**
 * `GET /policy`: the signed-in device's group policy with ICT's USB approvals for it, with ETag
 * and 304, and the group's name in `hallpass-device-group` (URI-encoded).
 */
export const policyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/policy',
    {
      preValidation: requireDevice,
      schema: {
        summary: "The policy of the device's group, with the USB approvals in scope for it",
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
      const policy =
        request.deviceId === null
          ? null
          : await policyForDevice(app.db, request.deviceId, app.now());
      if (policy === null) {
        return reply.status(404).send({
          error: 'no-policy',
          message: 'ICT has not set a policy for this device group yet.',
        });
      }
      void reply
        .header('etag', policy.etag)
        .header('cache-control', 'no-cache')
        // On 200 and 304 alike: a renamed group reaches devices whose policy did not change.
        .header(DEVICE_GROUP_HEADER, encodeDeviceGroup(policy.deviceGroup));
      if (request.headers['if-none-match'] === policy.etag) {
        return reply.status(304).send(null);
      }
      return reply.status(200).send(policy.document);
    },
  );
};
