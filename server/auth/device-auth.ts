import { createPublicKey } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Queryable } from '../db/db.ts';
import { findRetiredDevice } from '../store/devices.ts';
import { recordNonce } from '../store/nonces.ts';
import { verifyRequest, type VerifyRequestInput } from './http-signature.ts';

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
  const input: VerifyRequestInput = {
    method: request.method,
    url: request.url,
    headers: request.headers,
    body: request.rawBody ?? new Uint8Array(),
    lookupKey: (keyId) => app.deviceKeys.lookup(app.db, keyId),
    now,
    maxSkewSeconds: app.config.maxClockSkewSeconds,
  };
  const result = await verifyRequest(input);
  if (!result.ok && result.code === 'unknown-key') {
    const retired = await retiredAnswer(app.db, input);
    if (retired !== null) {
      request.log.warn({ code: 'device-retired' }, 'request from a retired device refused');
      await reply.status(401).send({ ...retired, serverTime: now.toISOString() });
      return;
    }
  }
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

/**
 * When a request is signed by a device that was retired (replaced), says so, so its service can
 * tell the people at the device instead of failing with "unknown key" for ever. Only a request
 * that verifies under the retired device's own key learns this.
 */
async function retiredAnswer(
  db: Queryable,
  input: VerifyRequestInput,
): Promise<{ error: string; message: string } | null> {
  let found: Awaited<ReturnType<typeof findRetiredDevice>> = null;
  const verified = await verifyRequest({
    ...input,
    lookupKey: async (keyId) => {
      found = await findRetiredDevice(db, keyId);
      return found === null
        ? null
        : createPublicKey({
            key: Buffer.from(found.publicKeySpki, 'base64url'),
            format: 'der',
            type: 'spki',
          });
    },
  });
  const retired = found as Awaited<ReturnType<typeof findRetiredDevice>>;
  if (!verified.ok || retired === null) {
    return null;
  }
  const when = retired.retiredAt.toISOString();
  return {
    error: 'device-retired',
    message:
      retired.replacedBy === null
        ? `ICT retired this device on ${when}; it can no longer report.`
        : `This device was replaced on ${when} by device ${retired.replacedBy} (re-enrolled ` +
          'with its key or with ICT approval); it can no longer report. If that was not ICT, ' +
          'tell ICT and enrol again with a new token.',
  };
}
