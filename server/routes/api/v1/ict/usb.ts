import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  ApiErrorSchema,
  CreateUsbApprovalRequestSchema,
  UsbApprovalSchema,
  UsbBlockedListSchema,
  UuidSchema,
} from '../../../../../shared/index.ts';
import { currentUser, requireUser } from '../../../../auth/sessions.ts';
import { recordAudit } from '../../../../store/audit-log.ts';
import {
  createUsbApproval,
  findUsbApproval,
  listUsbApprovals,
  revokeUsbApproval,
} from '../../../../store/usb-approvals.ts';
import { blockedSticks, USB_DEFAULT_DAYS } from '../../../../store/usb-blocked.ts';
import { DAY_MS } from '../../../../store/read-values.ts';
import { refuseBadNames, signedInErrors } from './common.ts';

/** Query of `GET /usb/approvals`. */
export const UsbApprovalListQuerySchema = Type.Object(
  { open: Type.Optional(Type.Boolean({ description: 'Only approvals not revoked.' })) },
  { additionalProperties: false },
);

/** Query of `GET /usb/blocked`. */
export const UsbBlockedQuerySchema = Type.Object(
  { days: Type.Optional(Type.Integer({ minimum: 1, maximum: 366, default: USB_DEFAULT_DAYS })) },
  { additionalProperties: false },
);

const notFound = { error: 'not-found', message: 'No USB approval has that id.' } as const;

/**
 * `/usb`: blocked sticks across the trust, and ICT's approvals of sticks (admin to change).
 * Approvals are merged into the policy each device in their scope fetches (GET /api/v1/policy).
 */
export const usbRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const admin = requireUser('admin');
  const viewer = requireUser('viewer');

  app.get(
    '/usb/blocked',
    {
      onRequest: viewer,
      schema: {
        summary: 'Blocked USB storage by vendor, product and serial, most blocked first',
        tags: ['ict'],
        querystring: UsbBlockedQuerySchema,
        response: { 200: UsbBlockedListSchema, ...signedInErrors },
      },
    },
    async (request) => {
      const days = request.query.days ?? USB_DEFAULT_DAYS;
      const since = new Date(app.now().getTime() - days * DAY_MS);
      return { days, items: await blockedSticks(app.db, since) };
    },
  );

  app.get(
    '/usb/approvals',
    {
      onRequest: viewer,
      schema: {
        summary: 'USB approvals, newest first, revoked ones included unless open=true',
        tags: ['ict'],
        querystring: UsbApprovalListQuerySchema,
        response: { 200: Type.Array(UsbApprovalSchema), ...signedInErrors },
      },
    },
    async (request) => listUsbApprovals(app.db, { openOnly: request.query.open === true }),
  );

  app.post(
    '/usb/approvals',
    {
      onRequest: admin,
      preValidation: refuseBadNames({ description: 'the description', reason: 'the reason' }),
      schema: {
        summary:
          'Approve a USB stick, or a model without serial, for a group, school or trust (admin)',
        tags: ['ict'],
        body: CreateUsbApprovalRequestSchema,
        response: { 201: UsbApprovalSchema, ...signedInErrors },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const scopeId = body.scopeId ?? null;
      if ((body.scope === 'trust') !== (scopeId === null)) {
        return reply.status(400).send({
          error: 'invalid-scope',
          message:
            body.scope === 'trust'
              ? 'An approval for the whole trust names no group or school.'
              : `An approval for a ${body.scope === 'group' ? 'device group' : 'school'} needs its id (scopeId).`,
        });
      }
      const now = app.now();
      const expiresAt = body.expiresAt === null ? null : new Date(body.expiresAt);
      if (expiresAt !== null && !(expiresAt.getTime() > now.getTime())) {
        return reply.status(400).send({
          error: 'invalid-expiry',
          message: 'The expiry is in the past: choose a later time, or none.',
        });
      }
      const user = currentUser(request);
      const created = await app.db.transaction(async (tx) => {
        const approval = await createUsbApproval(tx, {
          vendorId: body.vendorId,
          productId: body.productId,
          serial: body.serial,
          description: body.description,
          scope: body.scope,
          scopeId,
          reason: body.reason,
          expiresAt,
          approvedBy: user.id,
        });
        if (approval !== null) {
          await recordAudit(tx, {
            actor: user,
            action: 'usb.approve',
            targetType: 'usb-approval',
            targetId: approval.id,
            before: null,
            after: approval,
            at: now,
          });
        }
        return approval;
      });
      if (created === null) {
        return reply.status(400).send({
          error: body.scope === 'group' ? 'unknown-group' : 'unknown-school',
          message:
            body.scope === 'group' ? 'No device group has that id.' : 'No school has that id.',
        });
      }
      request.log.info({ approvalId: created.id, scope: created.scope }, 'USB device approved');
      return reply.status(201).send(created);
    },
  );

  app.post(
    '/usb/approvals/:id/revoke',
    {
      onRequest: admin,
      schema: {
        summary: 'Revoke a USB approval (admin); it stays on record with who revoked it',
        tags: ['ict'],
        params: Type.Object({ id: UuidSchema }),
        response: { 200: UsbApprovalSchema, 404: ApiErrorSchema, ...signedInErrors },
      },
    },
    async (request, reply) => {
      const user = currentUser(request);
      const now = app.now();
      const revoked = await app.db.transaction(async (tx) => {
        const before = await findUsbApproval(tx, request.params.id, { lock: true });
        if (before === null) {
          return null;
        }
        const after = await revokeUsbApproval(tx, {
          id: request.params.id,
          revokedBy: user.id,
          at: now,
        });
        // Revoking a revoked approval changes nothing, so it leaves no audit row either.
        if (before.revokedAt === null) {
          await recordAudit(tx, {
            actor: user,
            action: 'usb.revoke',
            targetType: 'usb-approval',
            targetId: before.id,
            before,
            after,
            at: now,
          });
        }
        return after;
      });
      if (revoked === null) {
        return reply.status(404).send(notFound);
      }
      request.log.info({ approvalId: revoked.id }, 'USB approval revoked');
      return revoked;
    },
  );
};
