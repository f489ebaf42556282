import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  AllowReenrolmentRequestSchema,
  ApiErrorSchema,
  ReenrolmentApprovalSchema,
  UuidSchema,
} from '../../../../../shared/index.ts';
import { currentUser, requireUser } from '../../../../auth/sessions.ts';
import { recordAudit } from '../../../../store/audit-log.ts';
import {
  allowReenrolment,
  reenrolmentState,
  withdrawReenrolment,
} from '../../../../store/re-enrolment.ts';
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
      const deviceId = request.params.id;
      const allowed = await app.db.transaction(async (tx) => {
        const before = await reenrolmentState(tx, deviceId);
        if (
          before === null ||
          !(await allowReenrolment(tx, {
            deviceId,
            userId: user.id,
            username: user.username,
            until,
            now,
          }))
        ) {
          return false;
        }
        await recordAudit(tx, {
          actor: user,
          action: 're-enrolment.allow',
          targetType: 'device',
          targetId: deviceId,
          before,
          after: await reenrolmentState(tx, deviceId),
          at: now,
        });
        return true;
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
      const user = currentUser(request);
      const now = app.now();
      const deviceId = request.params.id;
      const withdrawn = await app.db.transaction(async (tx) => {
        const before = await reenrolmentState(tx, deviceId);
        if (before === null) {
          return false;
        }
        await withdrawReenrolment(tx, { deviceId, username: user.username, now });
        // Withdrawing when nothing is allowed changes nothing, so it leaves no audit row.
        if (before.allowedUntil !== null) {
          await recordAudit(tx, {
            actor: user,
            action: 're-enrolment.withdraw',
            targetType: 'device',
            targetId: deviceId,
            before,
            after: await reenrolmentState(tx, deviceId),
            at: now,
          });
        }
        return true;
      });
      if (!withdrawn) {
        return reply.status(404).send(notFound);
      }
      return { deviceId: request.params.id, allowedUntil: null };
    },
  );
};
