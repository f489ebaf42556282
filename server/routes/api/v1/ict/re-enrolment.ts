import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  AllowReenrolmentRequestSchema,
  ApiErrorSchema,
  ReenrolmentApprovalSchema,
  UuidSchema,
} from '../../../../../shared/index.ts';
import { currentUser, requireUser } from '../../../../auth/sessions.ts';
import { allowReenrolment, withdrawReenrolment } from '../../../../store/re-enrolment.ts';
import { signedInErrors } from './common.ts';

const notFound = { error: 'not-found', message: 'No active device has that id.' } as const;

/**
 * `/devices/:id/re-enrolment` (admin): allow one replacement of a device that lost its key (a
 * reimage), for a number of hours, or withdraw that. Without it, only the device's own key can
 * replace it.
 */
export const reenrolmentRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const admin = requireUser('admin');
  const params = Type.Object({ id: UuidSchema });

  app.post(
    '/devices/:id/re-enrolment',
    {
      onRequest: admin,
      schema: {
        summary: 'Allow one re-enrolment of a device (after a reimage) for some hours (admin)',
        tags: ['ict'],
        params,
        body: AllowReenrolmentRequestSchema,
        response: { 200: ReenrolmentApprovalSchema, 404: ApiErrorSchema, ...signedInErrors },
      },
    },
    async (request, reply) => {
      const user = currentUser(request);
      const now = app.now();
      const until = new Date(now.getTime() + request.body.hours * 3_600_000);
      const allowed = await allowReenrolment(app.db, {
        deviceId: request.params.id,
        userId: user.id,
        username: user.username,
        until,
        now,
      });
      if (!allowed) {
        return reply.status(404).send(notFound);
      }
      request.log.info({ deviceId: request.params.id, until }, 're-enrolment allowed');
      return { deviceId: request.params.id, allowedUntil: until.toISOString() };
    },
  );

  app.delete(
    '/devices/:id/re-enrolment',
    {
      onRequest: admin,
      schema: {
        summary: 'Withdraw an approval of re-enrolment (admin)',
        tags: ['ict'],
        params,
        response: { 200: ReenrolmentApprovalSchema, 404: ApiErrorSchema, ...signedInErrors },
      },
    },
    async (request, reply) => {
      const withdrawn = await withdrawReenrolment(app.db, {
        deviceId: request.params.id,
        username: currentUser(request).username,
        now: app.now(),
      });
      if (!withdrawn) {
        return reply.status(404).send(notFound);
      }
      return { deviceId: request.params.id, allowedUntil: null };
    },
  );
};
