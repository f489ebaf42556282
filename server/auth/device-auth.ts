import type { FastifyReply, FastifyRequest } from 'fastify';
import { recordNonce } from '../store/nonces.ts';
import { verifyRequest } from './http-signature.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The device whose key signed this request (set by `requireDevice`). */
    deviceId: string | null;
  }
}

/**
 * preHandler for every device route but enrolment: the request must carry a valid RFC 9421
 * signature by an enrolled device's key over method, path, query and body digest, made within
 * the allowed clock skew, with a nonce this device has not used before.
 */
export async function requireDevice(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const app = request.server;
  const now = app.now();
  const result = await verifyRequest({
    method: request.method,
    url: request.url,
    headers: request.headers,
    body: request.rawBody ?? new Uint8Array(),
    lookupKey: (keyId) => app.deviceKeys.lookup(app.db, keyId),
    now,
    maxSkewSeconds: app.config.maxClockSkewSeconds,
  });
  if (!result.ok) {
    request.log.warn({ code: result.code }, 'device request refused');
    await reply.status(result.status).send({
      error: result.code,
      message: result.message,
      serverTime: now.toISOString(),
    });
    return;
  }
  if (!(await recordNonce(app.db, result.keyId, result.nonce))) {
    request.log.warn({ deviceId: result.keyId }, 'replayed device request refused');
    await reply.status(401).send({
      error: 'replayed',
      message: 'This request was already received (its nonce was used before).',
      serverTime: now.toISOString(),
    });
    return;
  }
  request.deviceId = result.keyId;
}
