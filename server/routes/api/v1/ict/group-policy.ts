import type { FastifyError } from 'fastify';
import {
  TypeBoxValidatorCompiler,
  type FastifyPluginAsyncTypebox,
} from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { parse as parseYaml } from 'yaml';
import {
  ApiErrorSchema,
  describeProblems,
  PolicySchema,
  PolicyUploadResponseSchema,
  UuidSchema,
  validatePolicy,
} from '../../../../../shared/index.ts';
import { currentUser, requireUser } from '../../../../auth/sessions.ts';
import { recordAudit } from '../../../../store/audit-log.ts';
import { currentPolicy, uploadPolicy } from '../../../../store/policies.ts';
import { nameRefusal, signedInErrors } from './common.ts';

/** Largest policy upload; a real policy is a few kilobytes. */
export const MAX_POLICY_BYTES = 256 * 1024;

// A YAML document can expand far beyond its size through aliases ("billion laughs"): bound them.
const MAX_YAML_ALIASES = 100;

function badRequest(code: string, message: string): FastifyError {
  const error = new Error(message) as FastifyError;
  error.statusCode = 400;
  error.code = code;
  return error;
}

/** Parses a YAML policy body; throws a 400 for anything that is not one plain YAML document. */
export function parsePolicyYaml(text: string): unknown {
  try {
    return parseYaml(text, {
      maxAliasCount: MAX_YAML_ALIASES,
      uniqueKeys: true,
      // YAML 1.2 core schema: no custom tags, no `<<` merge keys.
      version: '1.2',
      schema: 'core',
      // Warnings (an unknown tag, say) are the uploader's problem, not lines in the server's log.
      logLevel: 'error',
    });
  } catch (error) {
    const detail = error instanceof Error ? (error.message.split('\n')[0] ?? '') : '';
    throw badRequest('invalid-yaml', `The body is not valid YAML: ${detail}`.slice(0, 500));
  }
}

const params = Type.Object({ id: UuidSchema });

/** `GET` and `PUT` of `/groups/:id/policy`: a device group's policy, uploaded as YAML or JSON. */
export const groupPolicyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addContentTypeParser(
    ['application/yaml', 'text/yaml', 'application/x-yaml'],
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
        summary: 'Upload a new policy version for a device group (admin; YAML or JSON)',
        tags: ['ict'],
        params,
        body: PolicySchema,
        response: { 200: PolicyUploadResponseSchema, 404: ApiErrorSchema, ...signedInErrors },
      },
    },
    async (request, reply) => {
      const checked = validatePolicy(request.body);
      if (!checked.ok) {
        return reply.status(400).send({
          error: 'invalid-policy',
          message: `Invalid policy: ${describeProblems(checked.problems)}`.slice(0, 1000),
        });
      }
      const refusal = nameRefusal("the policy's name", checked.value.name);
      if (refusal !== null) {
        return reply.status(400).send(refusal);
      }
      const groupId = request.params.id;
      const user = currentUser(request);
      const now = app.now();
      const stored = await app.db.transaction(async (tx) => {
        // The group's row, locked: two uploads take turns, so each row's "before" is true.
        const group = await tx.query('select id from device_groups where id = $1 for update', [
          groupId,
        ]);
        if (group.length === 0) {
          return null;
        }
        const before = await currentPolicy(tx, groupId);
        const after = await uploadPolicy(tx, {
          groupId,
          policy: checked.value,
          uploadedBy: user.id,
        });
        const shown = (policy: typeof after) => ({
          version: policy.version,
          etag: policy.etag,
          policy: policy.document,
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
        return after;
      });
      if (stored === null) {
        return reply.status(404).send({ error: 'not-found', message: 'No such device group.' });
      }
      request.log.info({ groupId, version: stored.version }, 'policy uploaded');
      return { groupId, version: stored.version, etag: stored.etag, policy: stored.document };
    },
  );
};
