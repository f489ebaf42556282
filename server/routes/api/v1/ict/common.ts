// Pieces every ICT route file shares: error answers and the NUL-character guard.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiErrorSchema } from '../../../../../shared/index.ts';

/** Error answers an ICT route that needs a session can give. */
export const signedInErrors = {
  400: ApiErrorSchema,
  401: ApiErrorSchema,
  403: ApiErrorSchema,
} as const;

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
