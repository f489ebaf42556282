import type { FastifyError } from 'fastify';
import {
  TypeBoxValidatorCompiler,
  type FastifyPluginAsyncTypebox,
} from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  ApiErrorSchema,
  describeProblems,
  GroupPolicyListSchema,
  PolicyRollbackRequestSchema,
  PolicyRollbackResponseSchema,
  PolicySchema,
  PolicyUploadResponseSchema,
  PolicyVersionDetailSchema,
  PolicyVersionListSchema,
  UuidSchema,
  validatePolicy,
  type ApiError,
  type Policy,
  type SchemaProblem,
} from '../../../../../shared/index.ts';
import { currentUser, requireUser } from '../../../../auth/sessions.ts';
import type { Queryable } from '../../../../db/db.ts';
import { policyYaml, readPolicyYaml, samePolicy } from '../../../../policy-text.ts';
import { recordAudit } from '../../../../store/audit-log.ts';
import {
  currentPolicy,
  groupPolicies,
  listPolicyVersions,
  policyVersion,
  uploadPolicy,
  type StoredPolicy,
} from '../../../../store/policies.ts';
import { nameRefusal, signedInErrors } from './common.ts';

/** Largest policy upload; a real policy is a few kilobytes. */
export const MAX_POLICY_BYTES = 256 * 1024;

/** The media types a policy may be sent as besides JSON. */
export const YAML_TYPES = ['application/yaml', 'text/yaml', 'application/x-yaml'];

/** Versions the history answers at most, newest first. */
const MAX_VERSIONS_LISTED = 500;

function badRequest(code: string, message: string): FastifyError {
  const error = new Error(message) as FastifyError;
  error.statusCode = 400;
  error.code = code;
  return error;
}

/** The 400 message for a body that is not YAML, as `PUT` and the check both say it. */
export const invalidYamlMessage = (detail: string): string =>
  `The body is not valid YAML: ${detail}`.slice(0, 500);

/** Parses a YAML policy body; throws a 400 for anything that is not one plain YAML document. */
export function parsePolicyYaml(text: string): unknown {
  const read = readPolicyYaml(text);
  if (!read.ok) {
    throw badRequest('invalid-yaml', invalidYamlMessage(read.detail));
  }
  return read.value;
}

/**
 * What `PUT` makes of a parsed body: the policy it would publish, or its refusal (the very
 * answer the PUT gives) with every problem, each at its JSON pointer.
 */
export function judgePolicy(value: unknown):
  | { ok: true; policy: Policy }
  | {
      ok: false;
      refusal: ApiError & { error: 'invalid-policy' | 'invalid-name' };
      problems: SchemaProblem[];
    } {
  const checked = validatePolicy(value);
  if (!checked.ok) {
    return {
      ok: false,
      refusal: {
        error: 'invalid-policy',
        message: `Invalid policy: ${describeProblems(checked.problems)}`.slice(0, 1000),
      },
      problems: checked.problems,
    };
  }
  const refusal = nameRefusal("the policy's name", checked.value.name);
  if (refusal !== null) {
    return {
      ok: false,
      refusal: { error: 'invalid-name', message: refusal.message },
      problems: [{ path: '/name', message: refusal.message }],
    };
  }
  return { ok: true, policy: checked.value };
}

/** The conditional headers a publish may carry. */
interface Preconditions {
  /** The ETag of the version the change was made against. */
  readonly ifMatch: string | string[] | undefined;
  /** `*` when the change was made while the group had no policy: the first version. */
  readonly ifNoneMatch: string | string[] | undefined;
}

const tagsOf = (header: string | string[]) =>
  (Array.isArray(header) ? header.join(',') : header).split(',').map((tag) => tag.trim());

/**
 * The 412 answer when `If-Match` names a version that is no longer in force (someone published
 * after the page was loaded), or when `If-None-Match: *` asked for the first version and someone
 * published one meanwhile; null when neither header is present or they hold.
 */
export function stalePrecondition(
  { ifMatch, ifNoneMatch }: Preconditions,
  current: StoredPolicy | null,
): ApiError | null {
  const changed = (version: number) => ({
    error: 'policy-changed',
    message:
      `Version ${String(version)} is now in force: someone published it after you ` +
      'started. Check your change against it, then publish again.',
  });
  if (ifNoneMatch !== undefined && current !== null) {
    const tags = tagsOf(ifNoneMatch);
    if (tags.includes('*') || tags.includes(current.etag)) {
      return changed(current.version);
    }
  }
  if (ifMatch === undefined) {
    return null;
  }
  const tags = tagsOf(ifMatch);
  if (current !== null && (tags.includes('*') || tags.includes(current.etag))) {
    return null;
  }
  return current === null
    ? { error: 'policy-changed', message: 'This group has no policy in force to change.' }
    : changed(current.version);
}

const preconditionsOf = (headers: Record<string, string | string[] | undefined>) => ({
  ifMatch: headers['if-match'],
  ifNoneMatch: headers['if-none-match'],
});

/** A stored version as the audit log keeps it. */
const shown = (policy: StoredPolicy) => ({
  version: policy.version,
  etag: policy.etag,
  policy: policy.document,
});

/** Locks a group's row for the rest of the transaction; false when there is no such group. */
async function lockGroup(tx: Queryable, groupId: string): Promise<boolean> {
  const group = await tx.query('select id from device_groups where id = $1 for update', [groupId]);
  return group.length > 0;
}

const params = Type.Object({ id: UuidSchema });
const NO_GROUP = { error: 'not-found', message: 'No such device group.' };
const preconditionErrors = { 404: ApiErrorSchema, 409: ApiErrorSchema, 412: ApiErrorSchema };

/**
 * A device group's policy: `GET` and `PUT` of `/groups/:id/policy` (uploaded as YAML or JSON),
 * its history and any old version, rollback, and every group's version in force.
 */
export const groupPolicyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addContentTypeParser(
    YAML_TYPES,
    { parseAs: 'string', bodyLimit: MAX_POLICY_BYTES },
    (_request, body, done) => {
      try {
        done(null, parsePolicyYaml(body as string));
      } catch (error) {
        done(error as FastifyError, undefined);
      }
    },
  );

  app.get(
    '/policies',
    {
      onRequest: requireUser('viewer'),
      schema: {
        summary: 'Every device group with its policy version in force',
        tags: ['ict'],
        response: { 200: GroupPolicyListSchema, ...signedInErrors },
      },
    },
    async () => ({ items: await groupPolicies(app.db) }),
  );

  app.get(
    '/groups/:id/policy',
    {
      onRequest: requireUser('viewer'),
      schema: {
        summary: "A device group's policy in force",
        tags: ['ict'],
        params,
        response: { 200: PolicyUploadResponseSchema, 404: ApiErrorSchema, ...signedInErrors },
      },
    },
    async (request, reply) => {
      const policy = await currentPolicy(app.db, request.params.id);
      if (policy === null) {
        return reply
          .status(404)
          .send({ error: 'not-found', message: 'No such group, or no policy uploaded for it.' });
      }
      return {
        groupId: request.params.id,
        version: policy.version,
        etag: policy.etag,
        policy: policy.document,
      };
    },
  );

  app.put(
    '/groups/:id/policy',
    {
      onRequest: requireUser('admin'),
      bodyLimit: MAX_POLICY_BYTES,
      // The body is checked in the handler with `validate`, whose messages name the bad key;
      // the schema stays on the route for the OpenAPI document.
      validatorCompiler: (route) =>
        route.httpPart === 'body'
          ? (value: unknown) => ({ value })
          : TypeBoxValidatorCompiler(route),
      schema: {
        summary:
          'Upload a new policy version for a device group (admin; YAML or JSON). With If-Match ' +
          '(the ETag of the version in force) it is refused with 412 when another was published since; ' +
          'with If-None-Match: * (a first version) when any version was published meanwhile.',
        tags: ['ict'],
        params,
        body: PolicySchema,
        response: { 200: PolicyUploadResponseSchema, ...preconditionErrors, ...signedInErrors },
      },
    },
    async (request, reply) => {
      const judged = judgePolicy(request.body);
      if (!judged.ok) {
        return reply.status(400).send(judged.refusal);
      }
      const groupId = request.params.id;
      const user = currentUser(request);
      const now = app.now();
      const outcome = await app.db.transaction(async (tx) => {
        // The group's row, locked: two uploads take turns, so each row's "before" is true.
        if (!(await lockGroup(tx, groupId))) {
          return { status: 404, body: NO_GROUP } as const;
        }
        const before = await currentPolicy(tx, groupId);
        const stale = stalePrecondition(preconditionsOf(request.headers), before);
        if (stale !== null) {
          return { status: 412, body: stale } as const;
        }
        const after = await uploadPolicy(tx, {
          groupId,
          policy: judged.policy,
          uploadedBy: user.id,
        });
        await recordAudit(tx, {
          actor: user,
          action: 'policy.upload',
          targetType: 'device-group',
          targetId: groupId,
          before: before === null ? null : shown(before),
          after: shown(after),
          at: now,
        });
        return { status: 200, stored: after } as const;
      });
      if (outcome.status !== 200) {
        return reply.status(outcome.status).send(outcome.body);
      }
      const stored = outcome.stored;
      request.log.info({ groupId, version: stored.version }, 'policy uploaded');
      return { groupId, version: stored.version, etag: stored.etag, policy: stored.document };
    },
  );

  app.get(
    '/groups/:id/policy/versions',
    {
      onRequest: requireUser('viewer'),
      schema: {
        summary: "A device group's policy versions, newest first: when and by whom published",
        tags: ['ict'],
        params,
        response: { 200: PolicyVersionListSchema, 404: ApiErrorSchema, ...signedInErrors },
      },
    },
    async (request, reply) => {
      const groupId = request.params.id;
      const groups = await app.db.query<{ name: string; devices: number }>(
        `select name, (select count(*)::int from devices
                        where group_id = $1 and retired_at is null) as devices
           from device_groups where id = $1`,
        [groupId],
      );
      const group = groups[0];
      if (group === undefined) {
        return reply.status(404).send(NO_GROUP);
      }
      const versions = await listPolicyVersions(app.db, groupId, MAX_VERSIONS_LISTED);
      return { groupId, group: group.name, devices: group.devices, ...versions };
    },
  );

  app.get(
    '/groups/:id/policy/versions/:version',
    {
      onRequest: requireUser('viewer'),
      schema: {
        summary: "One version of a device group's policy, as stored and as canonical YAML",
        tags: ['ict'],
        params: Type.Object({
          id: UuidSchema,
          version: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }),
        }),
        response: { 200: PolicyVersionDetailSchema, 404: ApiErrorSchema, ...signedInErrors },
      },
    },
    async (request, reply) => {
      const { id: groupId, version } = request.params;
      const found = await policyVersion(app.db, groupId, version);
      if (found === null) {
        return reply
          .status(404)
          .send({ error: 'not-found', message: 'No such group, or it has no such version.' });
      }
      const { document, ...summary } = found;
      return { groupId, ...summary, policy: document, yaml: policyYaml(document) };
    },
  );

  app.post(
    '/groups/:id/policy/rollback',
    {
      onRequest: requireUser('admin'),
      schema: {
        summary:
          "Roll back (admin): publish an earlier version's document as a new version. If-Match " +
          'as for PUT.',
        tags: ['ict'],
        params,
        body: PolicyRollbackRequestSchema,
        response: { 200: PolicyRollbackResponseSchema, ...preconditionErrors, ...signedInErrors },
      },
    },
    async (request, reply) => {
      const groupId = request.params.id;
      const restoredFrom = request.body.version;
      const user = currentUser(request);
      const now = app.now();
      const outcome = await app.db.transaction(async (tx) => {
        if (!(await lockGroup(tx, groupId))) {
          return { status: 404, body: NO_GROUP } as const;
        }
        const before = await currentPolicy(tx, groupId);
        const stale = stalePrecondition(preconditionsOf(request.headers), before);
        if (stale !== null) {
          return { status: 412, body: stale } as const;
        }
        const old = await policyVersion(tx, groupId, restoredFrom);
        if (old === null || before === null) {
          return {
            status: 404,
            body: {
              error: 'not-found',
              message: `This group has no version ${String(restoredFrom)}.`,
            },
          } as const;
        }
        if (old.version === before.version) {
          return {
            status: 409,
            body: {
              error: 'in-force',
              message: `Version ${String(restoredFrom)} is the version in force: there is nothing to roll back.`,
            },
          } as const;
        }
        // Stored versions passed the schema of their day; today's may be stricter.
        const judged = judgePolicy(old.document);
        if (!judged.ok) {
          return {
            status: 409,
            body: {
              error: judged.refusal.error,
              message:
                `Version ${String(restoredFrom)} no longer passes today's policy checks ` +
                `(${judged.refusal.message}). Edit it and publish it instead.`.slice(0, 1000),
            },
          } as const;
        }
        if (samePolicy(judged.policy, before.document)) {
          return {
            status: 409,
            body: {
              error: 'no-change',
              message:
                `Version ${String(restoredFrom)} is the same as version ` +
                `${String(before.version)} in force: publishing it would change nothing.`,
            },
          } as const;
        }
        const after = await uploadPolicy(tx, {
          groupId,
          policy: judged.policy,
          uploadedBy: user.id,
          restoredFrom,
        });
        await recordAudit(tx, {
          actor: user,
          action: 'policy.rollback',
          targetType: 'device-group',
          targetId: groupId,
          before: shown(before),
          after: { ...shown(after), restoredFrom },
          at: now,
        });
        return { status: 200, stored: after } as const;
      });
      if (outcome.status !== 200) {
        return reply.status(outcome.status).send(outcome.body);
      }
      const stored = outcome.stored;
      request.log.info({ groupId, version: stored.version, restoredFrom }, 'policy rolled back');
      return {
        groupId,
        version: stored.version,
        etag: stored.etag,
        policy: stored.document,
        restoredFrom,
      };
    },
  );
};
