import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  AccountChangeSchema,
  AccountSchema,
  ApiErrorSchema,
  RoleSchema,
  SetPasswordRequestSchema,
  SetRoleRequestSchema,
  UuidSchema,
  type AuditAction,
} from '../../../../../shared/index.ts';
import { hashPassword, passwordProblem } from '../../../../auth/passwords.ts';
import { currentUser, requireUser, type SignedInUser } from '../../../../auth/sessions.ts';
import type { Database, Queryable } from '../../../../db/db.ts';
import {
  auditedAccount,
  changeStanding,
  listAccounts,
  resetPassword,
  type AccountOutcome,
  type AccountRefusal,
  type StandingChange,
} from '../../../../store/accounts.ts';
import { recordAudit } from '../../../../store/audit-log.ts';
import { createUser, UserError } from '../../../../store/users.ts';
import { signedInErrors } from './common.ts';

/** Body of `POST /users`. The store checks the username's characters and the password's length. */
export const CreateUserRequestSchema = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 100 }),
    password: Type.String({ minLength: 1, maxLength: 200 }),
    role: RoleSchema,
  },
  { additionalProperties: false },
);

/** An account as created (never its password or hash). */
export const CreatedUserSchema = Type.Object(
  { id: UuidSchema, username: Type.String(), role: RoleSchema },
  { additionalProperties: false },
);

/** Each refusal of an account change: status, code and what to do instead. */
const REFUSALS: Record<AccountRefusal, { status: 403 | 404 | 409; message: string }> = {
  'not-found': { status: 404, message: 'No account has that id.' },
  'own-account': {
    status: 409,
    message:
      'You cannot disable your own account or take away your own admin role: ask another admin.',
  },
  'last-admin': {
    status: 409,
    message: 'This is the last enabled admin: make another account an admin first.',
  },
  'not-admin': {
    status: 403,
    message: 'Your account is no longer an enabled admin, so it cannot change accounts.',
  },
};

const busy = { error: 'busy', message: 'The server is busy. Try again in a few seconds.' };

/**
 * Runs an account change and its audit row in one transaction and answers it: the account after
 * the change and the sessions it ended, or the refusal. A change that changes nothing (disabling
 * a disabled account) succeeds and leaves no audit row.
 */
async function answerChange(
  db: Database,
  reply: FastifyReply,
  input: {
    actor: SignedInUser;
    action: AuditAction;
    now: Date;
    change: (tx: Queryable) => Promise<AccountOutcome>;
  },
) {
  const outcome = await db.transaction(async (tx) => {
    const result = await input.change(tx);
    if (result.ok && result.changed) {
      await recordAudit(tx, {
        actor: input.actor,
        action: input.action,
        targetType: 'user',
        targetId: result.after.id,
        // What an admin can change: never the password or its hash.
        before: auditedAccount(result.before),
        after: { ...auditedAccount(result.after), sessionsEnded: result.sessionsEnded },
        at: input.now,
      });
    }
    return result;
  });
  if (!outcome.ok) {
    const { status, message } = REFUSALS[outcome.refusal];
    return reply.status(status).send({ error: outcome.refusal, message });
  }
  return reply.status(200).send({ account: outcome.after, sessionsEnded: outcome.sessionsEnded });
}

/**
 * `/users`: ICT accounts. Any account reads the list (admins also see each one's latest sign-in);
 * admins create accounts, disable and re-enable them, change their role and reset their password.
 * Nobody disables or demotes their own account, and the last enabled admin stays one.
 */
export const userRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const admin = requireUser('admin');
  const params = Type.Object({ id: UuidSchema });

  app.get(
    '/users',
    {
      onRequest: requireUser('viewer'),
      schema: {
        summary: 'Every ICT account, by username, without passwords or hashes',
        tags: ['ict'],
        response: { 200: Type.Array(AccountSchema), ...signedInErrors },
      },
    },
    async (request, reply) => {
      void reply.header('cache-control', 'no-store');
      return listAccounts(app.db, { withSignIn: currentUser(request).role === 'admin' });
    },
  );

  const standingSchema = (summary: string) => ({
    summary,
    tags: ['ict'],
    params,
    response: {
      200: AccountChangeSchema,
      404: ApiErrorSchema,
      409: ApiErrorSchema,
      ...signedInErrors,
    },
  });
  /** Answers a disable, enable or role change of the account in the address. */
  const changeTo = async (
    request: FastifyRequest<{ Params: { id: string } }>,
    reply: FastifyReply,
    action: AuditAction,
    change: StandingChange,
  ) => {
    const actor = currentUser(request);
    const now = app.now();
    const targetId = request.params.id;
    const answered = await answerChange(app.db, reply, {
      actor,
      action,
      now,
      change: (tx) => changeStanding(tx, { actorId: actor.id, targetId, change, now }),
    });
    request.log.info({ userId: targetId, action, status: reply.statusCode }, 'account changed');
    return answered;
  };

  app.post(
    '/users/:id/disable',
    {
      onRequest: admin,
      schema: standingSchema(
        'Disable an account (admin): it cannot sign in, and its sessions end at once',
      ),
    },
    (request, reply) => changeTo(request, reply, 'user.disable', { kind: 'disable' }),
  );

  app.post(
    '/users/:id/enable',
    { onRequest: admin, schema: standingSchema('Re-enable a disabled account (admin)') },
    (request, reply) => changeTo(request, reply, 'user.enable', { kind: 'enable' }),
  );

  app.put(
    '/users/:id/role',
    {
      onRequest: admin,
      schema: { ...standingSchema("Change an account's role (admin)"), body: SetRoleRequestSchema },
    },
    (request, reply) =>
      changeTo(request, reply, 'user.change-role', { kind: 'role', role: request.body.role }),
  );

  app.put(
    '/users/:id/password',
    {
      onRequest: admin,
      schema: {
        summary: "Set a new password for an account (admin); the account's sessions end",
        tags: ['ict'],
        params,
        body: SetPasswordRequestSchema,
        response: {
          200: AccountChangeSchema,
          404: ApiErrorSchema,
          429: ApiErrorSchema,
          ...signedInErrors,
        },
      },
    },
    async (request, reply) => {
      void reply.header('cache-control', 'no-store');
      const problem = passwordProblem(request.body.password);
      if (problem !== null) {
        return reply.status(400).send({ error: 'invalid-password', message: problem });
      }
      // Hashing is a 128 MiB scrypt: it takes a place among sign-in checks, like POST /users.
      const place = app.hashGate.tryEnter();
      if (place === null) {
        return reply.status(429).header('retry-after', '5').send(busy);
      }
      try {
        const actor = currentUser(request);
        const targetId = request.params.id;
        // Hashed before the transaction: no account row stays locked through the scrypt.
        const passwordHash = await place.run(() => hashPassword(request.body.password));
        const now = app.now();
        const result = await answerChange(app.db, reply, {
          actor,
          action: 'user.reset-password',
          now,
          change: (tx) => resetPassword(tx, { actorId: actor.id, targetId, passwordHash, now }),
        });
        request.log.info({ userId: targetId, status: reply.statusCode }, 'password reset');
        return result;
      } finally {
        place.leave();
      }
    },
  );

  app.post(
    '/users',
    {
      onRequest: requireUser('admin'),
      schema: {
        summary: 'Create an ICT account (admin)',
        tags: ['ict'],
        body: CreateUserRequestSchema,
        response: {
          201: CreatedUserSchema,
          409: ApiErrorSchema,
          429: ApiErrorSchema,
          ...signedInErrors,
        },
      },
    },
    async (request, reply) => {
      const { username, password, role } = request.body;
      // Hashing the new password is a 128 MiB scrypt: it takes a place among sign-in checks.
      const place = app.hashGate.tryEnter();
      if (place === null) {
        return reply.status(429).header('retry-after', '5').send(busy);
      }
      try {
        const actor = currentUser(request);
        const now = app.now();
        // The account and its audit row commit together. The hash is worked out inside the
        // transaction (createUser hashes, then inserts): a pooled connection waits for it, once.
        const { id } = await place.run(() =>
          app.db.transaction(async (tx) => {
            const created = await createUser(tx, { username, password, role });
            await recordAudit(tx, {
              actor,
              action: 'user.create',
              targetType: 'user',
              targetId: created.id,
              before: null,
              // Who and what role: never the password or its hash.
              after: { id: created.id, username, role },
              at: now,
            });
            return created;
          }),
        );
        request.log.info({ userId: id, role }, 'account created');
        return await reply.status(201).send({ id, username, role });
      } catch (error) {
        if (!(error instanceof UserError)) {
          throw error;
        }
        const exists = error.message.includes('already exists');
        return await reply
          .status(exists ? 409 : 400)
          .send({ error: exists ? 'exists' : 'invalid-user', message: error.message });
      } finally {
        place.leave();
      }
    },
  );
};
