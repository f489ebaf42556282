// Pieces every ICT route file shares: error answers and the NUL-character guard.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiErrorSchema, type ApiError } from '../../../../../shared/index.ts';
import type { AuthHook } from '../../../../auth/sessions.ts';
import { nameProblem } from '../../../../names.ts';

/** Error answers an ICT route that needs a session can give. */
export const signedInErrors = {
  400: ApiErrorSchema,
  401: ApiErrorSchema,
  403: ApiErrorSchema,
} as const;

/** The 400 body refusing a name an admin typed (server/names.ts), or null when it is fine. */
export function nameRefusal(what: string, text: string): ApiError | null {
  const problem = nameProblem(what, text);
  return problem === null ? null : { error: 'invalid-name', message: problem };
}

/**
 * preValidation hook refusing a body whose named text fields (field → how the message calls it)
 * are not acceptable names. Before the schema, so a pasted name with an invisible character is
 * told so, not that it "must match pattern" (U+FEFF, say, also fails the schema's no-space rule).
 */
export function refuseBadNames(fields: Record<string, string>): AuthHook {
  return async function refuseBadNamesHook(request, reply) {
    const body = request.body;
    if (typeof body !== 'object' || body === null) {
      return;
    }
    for (const [field, what] of Object.entries(fields)) {
      const value = (body as Record<string, unknown>)[field];
      const refusal = typeof value === 'string' ? nameRefusal(what, value) : null;
      if (refusal !== null) {
        await reply.status(400).send(refusal);
        return;
      }
    }
  };
}

/** True when any string in a parsed value (keys included) holds a NUL character. */
export function hasNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') {
    return value.includes('\u0000');
  }
  if (depth > 64 || typeof value !== 'object' || value === null) {
    return false;
  }
  for (const [key, inner] of Object.entries(value)) {
    if (key.includes('\u0000') || hasNul(inner, depth + 1)) {
      return true;
    }
  }
  return false;
}

/**
 * preValidation hook: PostgreSQL text and jsonb cannot hold U+0000, so a NUL anywhere in the
 * query, params or body would reach the database as an error (a 500). Refuse it as bad input.
 */
export async function refuseNul(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (hasNul(request.query) || hasNul(request.params) || hasNul(request.body)) {
    await reply
      .status(400)
      .send({ error: 'invalid-request', message: 'Text may not contain NUL characters.' });
  }
}
