import { createPublicKey } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import {
  ApiErrorSchema,
  EnrollRequestSchema,
  EnrollResponseSchema,
  type EnrollRequest,
} from '../../../../shared/index.ts';
import { verifyRequest } from '../../../auth/http-signature.ts';
import type { Queryable } from '../../../db/db.ts';
import {
  insertDevice,
  recordReplacement,
  retireForReplacement,
  type ReplacementProof,
} from '../../../store/devices.ts';
import { recordNonce } from '../../../store/nonces.ts';
import { consumeEnrolmentToken, type TokenRefusal } from '../../../store/tokens.ts';

/** True when `spki` (base64url DER) is an EC P-256 public key. */
export function isP256PublicKey(spki: string): boolean {
  try {
    const key = createPublicKey({
      key: Buffer.from(spki, 'base64url'),
      format: 'der',
      type: 'spki',
    });
    return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  } catch {
    return false;
  }
}

type Refusal = TokenRefusal | 'key-in-use' | 'unknown-device' | 'replacement-not-allowed';

const MESSAGES: Record<Refusal, string> = {
  'unknown-token': 'The enrolment token is not valid. Ask ICT for a current one.',
  'token-expired': 'The enrolment token has expired. Ask ICT for a new one.',
  'token-revoked': 'The enrolment token was revoked. Ask ICT for a new one.',
  'token-used-up': 'The enrolment token has been used as many times as ICT allowed.',
  'key-in-use': 'This public key already belongs to an enrolled device.',
  'unknown-device': 'The device to be replaced is not enrolled (or already retired).',
  'replacement-not-allowed':
    'Replacing an enrolled device needs its current key (run `hallpass enroll --replace` as ' +
    'root on that device) or ICT allowing its re-enrolment on the dashboard; a token is not enough.',
};

const STATUS: Record<Refusal, 403 | 409> = {
  'unknown-token': 403,
  'token-expired': 403,
  'token-revoked': 403,
  'token-used-up': 403,
  'replacement-not-allowed': 403,
  'key-in-use': 409,
  'unknown-device': 409,
};

/**
 * Checks the signature of a replacement: RFC 9421 by the replaced device's current key, over
 * this request's body (so over the new public key), fresh and never replayed. Null when valid.
 */
async function replacementSignatureProblem(
  request: FastifyRequest,
  replaces: string,
): Promise<{ status: 400 | 401; error: string; message: string } | null> {
  const app = request.server;
  const result = await verifyRequest({
    method: request.method,
    url: request.url,
    headers: request.headers,
    body: request.rawBody ?? new Uint8Array(),
    // Only the replaced device's own key can prove the replacement.
    lookupKey: (keyId) =>
      keyId === replaces ? app.deviceKeys.lookup(app.db, keyId) : Promise.resolve(null),
    now: app.now(),
    maxSkewSeconds: app.config.maxClockSkewSeconds,
  });
  if (!result.ok) {
    return {
      status: result.status,
      error: result.code,
      message:
        result.code === 'unknown-key'
          ? 'The replacement must be signed by the key of the device it replaces (keyid = replaces), and that device must be active.'
          : result.message,
    };
  }
  if (!(await recordNonce(app.db, result.keyId, result.nonce))) {
    return {
      status: 401,
      error: 'replayed',
      message: 'This request was already received (its nonce was used before).',
    };
  }
  return null;
}

type Outcome =
  { ok: true; deviceId: string; cloneSuspect: boolean } | { ok: false; reason: Refusal };

/** Thrown inside the transaction to roll back a token use when enrolment is refused after it. */
class EnrolmentRefused extends Error {
  readonly reason: Refusal;
  constructor(reason: Refusal) {
    super(reason);
    this.reason = reason;
  }
}

/** Enrols in one transaction: token (if needed), retirement of the replaced device, new device. */
async function enrolInTransaction(
  tx: Queryable,
  body: EnrollRequest,
  signedReplacement: boolean,
  now: Date,
): Promise<Outcome> {
  let token: { id: string; schoolId: string; groupId: string } | null = null;
  // A replacement proved by the old key takes nothing from a token: the device is already known.
  if (!signedReplacement && body.token !== undefined) {
    const consumed = await consumeEnrolmentToken(tx, body.token, now);
    if (!consumed.ok) {
      return { ok: false, reason: consumed.reason };
    }
    token = consumed;
  }
  let place: { schoolId: string; groupId: string; tokenId: string | null } | null =
    token === null ? null : { schoolId: token.schoolId, groupId: token.groupId, tokenId: token.id };
  let retired: {
    proof: ReplacementProof['kind'];
    approvedBy: string | null;
    machine: string | null;
  } | null = null;
  if (body.replaces !== undefined) {
    const proof: ReplacementProof | null = signedReplacement
      ? { kind: 'device-key' }
      : token === null
        ? null
        : { kind: 'ict-approval', tokenSchoolId: token.schoolId };
    if (proof === null) {
      return { ok: false, reason: 'replacement-not-allowed' };
    }
    const retirement = await retireForReplacement(tx, body.replaces, proof, now);
    if (!retirement.ok) {
      throw new EnrolmentRefused(retirement.reason);
    }
    // Proved by its key, the device stays where ICT put it; approved, it goes where the token says.
    place ??= {
      schoolId: retirement.schoolId,
      groupId: retirement.groupId,
      tokenId: retirement.enrolledVia,
    };
    retired = {
      proof: proof.kind,
      approvedBy: retirement.approvedBy,
      machine: retirement.machineIdHash,
    };
  }
  if (place === null) {
    throw new Error('no token and no replacement: refused before the transaction');
  }
  const enrolment = await insertDevice(tx, {
    ...place,
    publicKeySpki: body.publicKey,
    facts: body.facts,
    replaces: body.replaces ?? null,
    enrolledAt: now,
  });
  if (!enrolment.ok) {
    throw new EnrolmentRefused(enrolment.reason);
  }
  if (body.replaces !== undefined && retired !== null) {
    await recordReplacement(tx, {
      oldId: body.replaces,
      newId: enrolment.deviceId,
      proof: retired.proof,
      approvedBy: retired.approvedBy,
      sameMachineId: retired.machine !== null && retired.machine === body.facts.machineIdHash,
      at: now,
    });
  }
  return enrolment;
}

/** `POST /enroll`: exchanges an enrolment token, facts and a public key for a device id. */
export const enrollRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/enroll',
    {
      schema: {
        summary: 'Enrol a device, or replace one (signed by its key, or approved by ICT)',
        body: EnrollRequestSchema,
        response: {
          201: EnrollResponseSchema,
          400: ApiErrorSchema,
          401: ApiErrorSchema,
          403: ApiErrorSchema,
          409: ApiErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const now = app.now();
      if (!isP256PublicKey(body.publicKey)) {
        return reply.status(400).send({
          error: 'bad-public-key',
          message: 'publicKey must be a P-256 SubjectPublicKeyInfo, base64url.',
        });
      }
      const signed =
        body.replaces !== undefined && request.headers['signature-input'] !== undefined;
      if (signed && body.replaces !== undefined) {
        const problem = await replacementSignatureProblem(request, body.replaces);
        if (problem !== null) {
          request.log.warn({ replaces: body.replaces, code: problem.error }, 'replacement refused');
          return reply.status(problem.status).send({ ...problem, serverTime: now.toISOString() });
        }
      } else if (body.token === undefined) {
        return reply.status(400).send({
          error: 'token-required',
          message: 'Enrolment needs a token from ICT (a signed replacement does not).',
        });
      }
      const outcome = await app.db
        .transaction((tx) => enrolInTransaction(tx, body, signed, now))
        .catch((error: unknown) => {
          if (error instanceof EnrolmentRefused) {
            return { ok: false as const, reason: error.reason };
          }
          throw error;
        });
      if (!outcome.ok) {
        request.log.warn({ reason: outcome.reason, replaces: body.replaces }, 'enrolment refused');
        return reply
          .status(STATUS[outcome.reason])
          .send({ error: outcome.reason, message: MESSAGES[outcome.reason] });
      }
      if (body.replaces !== undefined) {
        // The replaced device is retired: its key stops working here now, not at the cache's expiry.
        app.deviceKeys.forget(body.replaces);
      }
      request.log.info(
        { deviceId: outcome.deviceId, cloneSuspect: outcome.cloneSuspect, replaces: body.replaces },
        body.replaces === undefined ? 'device enrolled' : 'device replaced',
      );
      return reply.status(201).send({
        deviceId: outcome.deviceId,
        serverTime: now.toISOString(),
        cloneSuspect: outcome.cloneSuspect,
      });
    },
  );
};
