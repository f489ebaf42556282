// `POST /groups/:id/policy/check`: a dry run of `PUT /groups/:id/policy`. It takes the same body
// (YAML or JSON), judges it with the same words, places each problem on its line of the YAML,
// and diffs the candidate against the version in force, writing nothing. Viewers may use it: it
// changes nothing, and the dashboard shows them old versions' diffs with it.
import {
  TypeBoxValidatorCompiler,
  type FastifyPluginAsyncTypebox,
} from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  ApiErrorSchema,
  PolicyCheckResponseSchema,
  PolicySchema,
  UuidSchema,
  type PolicyCheckResponse,
  type PolicyProblem,
} from '../../../../../shared/index.ts';
import { requireUser } from '../../../../auth/sessions.ts';
import {
  lineDiff,
  placeProblems,
  policyYaml,
  readPolicyYaml,
  samePolicy,
} from '../../../../policy-text.ts';
import { currentPolicy } from '../../../../store/policies.ts';
import { signedInErrors } from './common.ts';
import { invalidYamlMessage, judgePolicy, MAX_POLICY_BYTES, YAML_TYPES } from './group-policy.ts';

/** A YAML body, kept as text: the check reports a YAML error as a problem, not as a 400. */
class YamlText {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

/** Problems listed at most (the message still counts them all). */
const MAX_PROBLEMS = 100;

const isMapping = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Problems in the order of the text, those with no line last. */
const byLine = (a: PolicyProblem, b: PolicyProblem): number =>
  (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER);

export const policyCheckRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // Its own parser (this plugin's context only): a YAML body reaches the handler as text.
  app.addContentTypeParser(
    YAML_TYPES,
    { parseAs: 'string', bodyLimit: MAX_POLICY_BYTES },
    (_request, body, done) => {
      done(null, new YamlText(body as string));
    },
  );

  app.post(
    '/groups/:id/policy/check',
    {
      onRequest: requireUser('viewer'),
      bodyLimit: MAX_POLICY_BYTES,
      validatorCompiler: (route) =>
        route.httpPart === 'body'
          ? (value: unknown) => ({ value })
          : TypeBoxValidatorCompiler(route),
      schema: {
        summary:
          'Check a candidate policy without publishing it (YAML or JSON, as for PUT): the ' +
          "PUT's refusal and each problem with its line, and a line diff against the version in force",
        tags: ['ict'],
        params: Type.Object({ id: UuidSchema }),
        body: PolicySchema,
        response: { 200: PolicyCheckResponseSchema, 404: ApiErrorSchema, ...signedInErrors },
      },
    },
    async (request, reply): Promise<PolicyCheckResponse> => {
      const groupId = request.params.id;
      const group = await app.db.query('select id from device_groups where id = $1', [groupId]);
      if (group.length === 0) {
        return reply.status(404).send({ error: 'not-found', message: 'No such device group.' });
      }
      const base = await currentPolicy(app.db, groupId);
      const nextVersion = (base?.version ?? 0) + 1;
      const answer = {
        groupId,
        base: base === null ? null : { version: base.version, etag: base.etag },
        nextVersion,
      };
      const body: unknown = request.body;
      let value: unknown = body ?? null;
      if (body instanceof YamlText) {
        const read = readPolicyYaml(body.text);
        if (!read.ok) {
          return {
            ...answer,
            valid: false,
            message: invalidYamlMessage(read.detail),
            problems: [{ path: '/', message: `not valid YAML: ${read.detail}`, line: read.line }],
            unchanged: false,
            yaml: null,
            diff: null,
          };
        }
        value = read.value ?? null;
      }
      const judged = judgePolicy(value);
      const problems = judged.ok
        ? []
        : body instanceof YamlText
          ? placeProblems(body.text, judged.problems)
          : judged.problems.map((problem) => ({ ...problem, line: null }));
      // What would be stored: the server sets the version, whatever the body says.
      const candidate = isMapping(value) ? { ...value, version: nextVersion } : value;
      const yaml = policyYaml(candidate);
      const diff = await lineDiff(base === null ? '' : policyYaml(base.document), yaml);
      return {
        ...answer,
        valid: judged.ok,
        message: judged.ok ? null : judged.refusal.message,
        problems: problems.sort(byLine).slice(0, MAX_PROBLEMS),
        unchanged: base !== null && isMapping(value) && samePolicy(value, base.document),
        yaml,
        diff,
      };
    },
  );
};
