import { createPublicKey } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  ApiErrorSchema,
  EnrollRequestSchema,
  EnrollResponseSchema,
} from '../../../../shared/index.ts';
import { insertDevice } from '../../../store/devices.ts';
import { consumeEnrolmentToken } from '../../../store/tokens.ts';

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

const MESSAGES = {
  'unknown-token': 'The enrolment token is not valid. Ask ICT for a current one.',
  'token-expired': 'The enrolment token has expired. Ask ICT for a new one.',
  'token-revoked': 'The enrolment token was revoked. Ask ICT for a new one.',
  'token-used-up': 'The enrolment token has been used as many times as ICT allowed.',
  'key-in-use': 'This public key already belongs to an enrolled device.',
  'unknown-device': 'The device to be replaced is not enrolled (or already retired).',
  'machine-mismatch': 'Re-enrolment must come from the same machine as the device it replaces.',
} as const;

/** `POST /enroll`: exchanges an enrolment token, facts and a public key for a device id. */
export const enrollRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/enroll',
    {
      schema: {
        summary: 'Enrol a device',
        body: EnrollRequestSchema,
        response: {
          201: EnrollResponseSchema,
          400: ApiErrorSchema,
          403: ApiErrorSchema,
          409: ApiErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (!isP256PublicKey(body.publicKey)) {
        return reply.status(400).send({
          error: 'bad-public-key',
          message: 'publicKey must be a P-256 SubjectPublicKeyInfo, base64url.',
        });
      }
      const now = app.now();
      const outcome = await app.db
        .transaction(async (tx) => {
          const token = await consumeEnrolmentToken(tx, body.token, now);
          if (!token.ok) {
            return { ok: false as const, reason: token.reason };
          }
          const enrolment = await insertDevice(tx, {
            schoolId: token.schoolId,
            groupId: token.groupId,
            tokenId: token.id,
            publicKeySpki: body.publicKey,
            facts: body.facts,
            replaces: body.replaces,
            enrolledAt: now,
          });
          if (!enrolment.ok) {
            // Roll back the token use: a refused enrolment consumes nothing.
            throw new EnrolmentRefused(enrolment.reason);
          }
          return enrolment;
        })
        .catch((error: unknown) => {
          if (error instanceof EnrolmentRefused) {
            return { ok: false as const, reason: error.reason };
          }
          throw error;
        });
      if (!outcome.ok) {
        const status =
          outcome.reason === 'key-in-use' ||
          outcome.reason === 'machine-mismatch' ||
          outcome.reason === 'unknown-device'
            ? 409
            : 403;
        request.log.warn({ reason: outcome.reason }, 'enrolment refused');
        return reply
          .status(status)
          .send({ error: outcome.reason, message: MESSAGES[outcome.reason] });
      }
      if (body.replaces !== undefined) {
        // The replaced device is retired: its key stops working here now, not at the cache's expiry.
        app.deviceKeys.forget(body.replaces);
      }
      request.log.info(
        { deviceId: outcome.deviceId, cloneSuspect: outcome.cloneSuspect },
        'device enrolled',
      );
      return reply.status(201).send({
        deviceId: outcome.deviceId,
        serverTime: now.toISOString(),
        cloneSuspect: outcome.cloneSuspect,
      });
    },
  );
};

class EnrolmentRefused extends Error {
  readonly reason: 'key-in-use' | 'unknown-device' | 'machine-mismatch';
  constructor(reason: 'key-in-use' | 'unknown-device' | 'machine-mismatch') {
    super(reason);
    this.reason = reason;
  }
}
