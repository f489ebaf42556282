import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  AlertDeliveriesQuerySchema,
  AlertDeliverySchema,
  AlertDestinationSchema,
  ApiErrorSchema,
  CreateAlertDestinationSchema,
  CreatedAlertDestinationSchema,
  UuidSchema,
  type ApiError,
  type CreateAlertDestination,
} from '../../../../../shared/index.ts';
import { EMAIL_ADDRESS } from '../../../../alerts/email.ts';
import { deliverDue } from '../../../../alerts/job.ts';
import type { WebhookClient } from '../../../../alerts/webhook.ts';
import { currentUser, requireUser } from '../../../../auth/sessions.ts';
import { recordAudit } from '../../../../store/audit-log.ts';
import {
  createDestination,
  findDelivery,
  findDestination,
  listDeliveries,
  listDestinations,
  queueTestDelivery,
  removeDestination,
  retryDelivery,
  setDestinationEnabled,
} from '../../../../store/alerts.ts';
import { namedExists } from '../../../../store/ict-admin.ts';
import { refuseBadNames, signedInErrors } from './common.ts';

const Params = Type.Object({ id: UuidSchema });
const NO_DESTINATION = { error: 'not-found', message: 'No alert destination has that id.' };
const NO_DELIVERY = { error: 'not-found', message: 'No alert delivery has that id.' };

/** Why a target cannot be used, in words; null when it can. */
function targetProblem(
  body: CreateAlertDestination,
  smtp: boolean,
  webhooks: WebhookClient,
): ApiError | null {
  const target = body.target.trim();
  if (body.kind === 'email') {
    if (!smtp) {
      return {
        error: 'email-not-configured',
        message:
          'Email alerts need the server’s SMTP settings first: set smtpUrl (HALLPASS_SMTP_URL).',
      };
    }
    return target.length <= 254 && EMAIL_ADDRESS.test(target)
      ? null
      : { error: 'invalid-target', message: 'Enter one email address, like ict@school.example.' };
  }
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return { error: 'invalid-target', message: 'Enter the full webhook address, from https://.' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return {
      error: 'invalid-target',
      message: 'A webhook address starts with https:// or http://.',
    };
  }
  if (url.username !== '' || url.password !== '') {
    return {
      error: 'invalid-target',
      message:
        'Put no user name or password in the webhook address: the signature proves the sender.',
    };
  }
  const refused = webhooks.literalRefusal(url);
  return refused === null ? null : { error: 'invalid-target', message: refused };
}

/**
 * `/alerts`: where alerts go (admin adds, disables, removes and tests; anyone reads, secrets
 * masked) and what became of each delivery (anyone reads; admin retries a failed one). Every
 * change is audited in its own transaction.
 */
export const alertRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const admin = requireUser('admin');
  const viewer = requireUser('viewer');

  app.get(
    '/alerts/destinations',
    {
      onRequest: viewer,
      schema: {
        summary: 'Alert destinations, oldest first; webhook secrets masked',
        tags: ['ict'],
        response: { 200: Type.Array(AlertDestinationSchema), ...signedInErrors },
      },
    },
    async () => listDestinations(app.db),
  );

  app.post(
    '/alerts/destinations',
    {
      onRequest: admin,
      preValidation: refuseBadNames({ label: 'the label' }),
      schema: {
        summary: 'Add an alert destination (admin); a webhook’s secret is in the answer once',
        tags: ['ict'],
        body: CreateAlertDestinationSchema,
        response: { 201: CreatedAlertDestinationSchema, ...signedInErrors },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const problem = targetProblem(body, app.alerts.mailer.configured, app.alerts.webhooks);
      if (problem !== null) {
        return reply.status(400).send(problem);
      }
      const user = currentUser(request);
      const now = app.now();
      const schoolId = body.schoolId ?? null;
      const created = await app.db.transaction(async (tx) => {
        if (schoolId !== null && !(await namedExists(tx, 'schools', schoolId))) {
          return null;
        }
        const made = await createDestination(tx, {
          kind: body.kind,
          target: body.target.trim(),
          label: (body.label ?? '').trim(),
          schoolId,
          mode: body.mode ?? 'digest',
          createdBy: user.id,
          at: now,
        });
        const destination = await findDestination(tx, made.id);
        await recordAudit(tx, {
          actor: user,
          action: 'alert-destination.create',
          targetType: 'alert-destination',
          targetId: made.id,
          before: null,
          after: destination,
          at: now,
        });
        return destination === null ? null : { destination, secret: made.secret };
      });
      if (created === null) {
        return reply
          .status(400)
          .send({ error: 'unknown-school', message: 'No school has that id.' });
      }
      return reply.status(201).header('cache-control', 'no-store').send(created);
    },
  );

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    app.post(
      `/alerts/destinations/:id/${verb}`,
      {
        onRequest: admin,
        schema: {
          summary: `${verb === 'enable' ? 'Enable' : 'Disable'} an alert destination (admin)`,
          tags: ['ict'],
          params: Params,
          response: { 200: AlertDestinationSchema, 404: ApiErrorSchema, ...signedInErrors },
        },
      },
      async (request, reply) => {
        const { id } = request.params;
        const user = currentUser(request);
        const now = app.now();
        const after = await app.db.transaction(async (tx) => {
          const before = await findDestination(tx, id, { lock: true });
          if (before === null) {
            return null;
          }
          if (before.enabled === enabled) {
            return before;
          }
          await setDestinationEnabled(tx, id, enabled);
          const changed = await findDestination(tx, id);
          await recordAudit(tx, {
            actor: user,
            action: `alert-destination.${verb}`,
            targetType: 'alert-destination',
            targetId: id,
            before,
            after: changed,
            at: now,
          });
          return changed;
        });
        return after === null ? reply.status(404).send(NO_DESTINATION) : after;
      },
    );
  }

  app.delete(
    '/alerts/destinations/:id',
    {
      onRequest: admin,
      schema: {
        summary: 'Remove an alert destination and its delivery log (admin)',
        tags: ['ict'],
        params: Params,
        response: { 204: Type.Null(), 404: ApiErrorSchema, ...signedInErrors },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const user = currentUser(request);
      const now = app.now();
      const found = await app.db.transaction(async (tx) => {
        const before = await findDestination(tx, id, { lock: true });
        if (before === null) {
          return false;
        }
        await removeDestination(tx, id);
        await recordAudit(tx, {
          actor: user,
          action: 'alert-destination.remove',
          targetType: 'alert-destination',
          targetId: id,
          before,
          after: null,
          at: now,
        });
        return true;
      });
      return found ? reply.status(204).send(null) : reply.status(404).send(NO_DESTINATION);
    },
  );

  app.post(
    '/alerts/destinations/:id/test',
    {
      onRequest: admin,
      schema: {
        summary: 'Send a test alert now (admin); the answer is the delivery as it ended',
        tags: ['ict'],
        params: Params,
        response: { 200: AlertDeliverySchema, 404: ApiErrorSchema, ...signedInErrors },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const user = currentUser(request);
      const now = app.now();
      const deliveryId = await app.db.transaction(async (tx) => {
        const destination = await findDestination(tx, id);
        if (destination === null) {
          return null;
        }
        const queued = await queueTestDelivery(tx, destination, now);
        await recordAudit(tx, {
          actor: user,
          action: 'alert-destination.test',
          targetType: 'alert-destination',
          targetId: id,
          before: null,
          after: { deliveryId: queued },
          at: now,
        });
        return queued;
      });
      if (deliveryId === null) {
        return reply.status(404).send(NO_DESTINATION);
      }
      // Sent now, so the page can say at once whether it worked; a failure retries like any other.
      await deliverDue(app.alerts, now, deliveryId);
      return (await findDelivery(app.db, deliveryId)) ?? reply.status(404).send(NO_DELIVERY);
    },
  );

  app.get(
    '/alerts/deliveries',
    {
      onRequest: viewer,
      schema: {
        summary: 'Alert deliveries, newest first, with attempts and the last error in words',
        tags: ['ict'],
        querystring: AlertDeliveriesQuerySchema,
        response: { 200: Type.Array(AlertDeliverySchema), ...signedInErrors },
      },
    },
    async (request) =>
      listDeliveries(app.db, {
        ...(request.query.status === undefined ? {} : { status: request.query.status }),
        limit: request.query.limit ?? 100,
      }),
  );

  app.post(
    '/alerts/deliveries/:id/retry',
    {
      onRequest: admin,
      schema: {
        summary: 'Queue a failed delivery again, its attempts reset (admin)',
        tags: ['ict'],
        params: Params,
        response: {
          200: AlertDeliverySchema,
          404: ApiErrorSchema,
          409: ApiErrorSchema,
          ...signedInErrors,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const user = currentUser(request);
      const now = app.now();
      const before = await findDelivery(app.db, id);
      if (before === null) {
        return reply.status(404).send(NO_DELIVERY);
      }
      const retried = await app.db.transaction(async (tx) => {
        if (!(await retryDelivery(tx, id, now))) {
          return false;
        }
        await recordAudit(tx, {
          actor: user,
          action: 'alert-delivery.retry',
          targetType: 'alert-delivery',
          targetId: id,
          before,
          after: await findDelivery(tx, id),
          at: now,
        });
        return true;
      });
      if (!retried) {
        return reply
          .status(409)
          .send({ error: 'not-failed', message: 'Only a failed delivery can be retried.' });
      }
      return (await findDelivery(app.db, id)) ?? reply.status(404).send(NO_DELIVERY);
    },
  );
};
