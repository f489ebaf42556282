// Enrolment (ARCHITECTURE.md, "Identity and trust"): the device makes a P-256 key pair, sends
// the public half with the installer's token and its facts, and keeps the private half, with
// the device id the server answers, in the machine-scoped secret store. The key never leaves.
// Replacing an enrolled device needs proof (issue 12): the request signed with its current key,
// or, when that key is lost (a reimage), a token while ICT allows the device's re-enrolment.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import {
  describeProblems,
  EnrollRequestSchema,
  EnrollResponseSchema,
  SCHEMA_VERSION,
  validate,
  type DeviceFacts,
  type EnrollRequest,
} from '../../shared/index.ts';
import { generateDeviceKeyPair, signRequest } from './http-signature/sign.ts';
import { nodeTransport, type Transport } from './http-transport.ts';
import type { DeviceCredential, SecretStore } from './secrets/secret-store.ts';
import {
  apiError,
  normalizeServerUrl,
  toAnswer,
  transportError,
  type Answer,
} from './server-client.ts';

/** Enrolment was refused or could not happen; `code` is the server's error code or ours. */
export class EnrolmentError extends Error {
  readonly code: string;
  readonly status: number | null;
  constructor(code: string, status: number | null, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EnrolmentError';
    this.code = code;
    this.status = status;
  }
}

/**
 * Which enrolled device this enrolment replaces: with its credential, the request is signed by
 * its current key (no token needed); with its id only, the server accepts it only while ICT
 * allows that device's re-enrolment, and a token is needed.
 */
export type Replacement = { credential: DeviceCredential } | { deviceId: string };

/** What enrolment needs: a token for a new device, or a replacement with its proof. */
export interface EnrolOptions {
  serverUrl: string;
  token?: string;
  facts: DeviceFacts;
  store: SecretStore;
  replaces?: Replacement;
  /** How requests are sent (tests inject one); node:http/https by default. */
  transport?: Transport;
  now?: () => Date;
  /** Whole request, answer included (default 30 s). */
  timeoutMs?: number;
}

/** The outcome: the device's id, and whether another enrolled device shares its machine id. */
export interface Enrolment {
  deviceId: string;
  cloneSuspect: boolean;
}

/** Enrols this device and stores its credential; throws an EnrolmentError when refused. */
export async function enrolDevice(options: EnrolOptions): Promise<Enrolment> {
  let base: string;
  try {
    base = normalizeServerUrl(options.serverUrl);
  } catch (error) {
    throw new EnrolmentError('bad-server-url', null, (error as Error).message, { cause: error });
  }
  const keys = generateDeviceKeyPair();
  const proof =
    options.replaces !== undefined && 'credential' in options.replaces
      ? options.replaces.credential
      : null;
  const replaces =
    options.replaces === undefined
      ? undefined
      : 'credential' in options.replaces
        ? options.replaces.credential.deviceId
        : options.replaces.deviceId;
  // A replacement proved by the old key sends no token: the token is spent once, at first enrolment.
  const token = proof === null ? options.token?.trim() : undefined;
  if (proof === null && (token === undefined || token === '')) {
    throw new EnrolmentError('token-required', null, 'cannot enrol: an enrolment token is needed');
  }
  const request: EnrollRequest = {
    schemaVersion: SCHEMA_VERSION,
    ...(token === undefined ? {} : { token }),
    // The server wants SubjectPublicKeyInfo DER, base64url.
    publicKey: createPublicKey(keys.privateKey)
      .export({ format: 'der', type: 'spki' })
      .toString('base64url'),
    facts: options.facts,
    ...(replaces === undefined ? {} : { replaces }),
  };
  const checked = validate(EnrollRequestSchema, request);
  if (!checked.ok) {
    // Said here, before the token is spent: a typo'd token or odd facts are ours to report.
    throw new EnrolmentError(
      'invalid-request',
      null,
      `cannot enrol: ${describeProblems(checked.problems)}`,
    );
  }

  const url = `${base}/api/v1/enroll`;
  const body = JSON.stringify(request);
  const now = options.now ?? (() => new Date());
  const send = async (clockOffsetMs: number): Promise<Answer> => {
    try {
      return toAnswer(
        await (options.transport ?? nodeTransport)({
          method: 'POST',
          url,
          headers: {
            'content-type': 'application/json',
            accept: 'application/json',
            // Proof of possession: the old key signs this body, and with it the new public key.
            ...(proof === null
              ? {}
              : signRequest({
                  method: 'POST',
                  url,
                  body,
                  keyId: proof.deviceId,
                  privateKey: createPrivateKey(proof.privateKeyPem),
                  now: new Date(now().getTime() + clockOffsetMs),
                })),
          },
          body,
          // A redirect is never followed: the token must not travel to another host or to http.
          timeoutMs: options.timeoutMs ?? 30_000,
          maxBytes: 64 * 1024,
        }),
      );
    } catch (error) {
      const failure = transportError(error, url);
      throw new EnrolmentError(failure.code, failure.status, failure.message, { cause: error });
    }
  };
  let answer = await send(0);
  const stale = answer.status === 401 ? apiError(answer) : null;
  const serverMs = Date.parse(stale?.serverTime ?? '');
  if (proof !== null && stale?.error === 'stale' && !Number.isNaN(serverMs)) {
    // A signed replacement from a device whose clock is off: sign once more on the server's time.
    answer = await send(serverMs - now().getTime());
  }

  if (answer.status !== 201) {
    const refusal = apiError(answer);
    throw new EnrolmentError(
      refusal?.error ?? `http-${answer.status}`,
      answer.status,
      refusal === null
        ? `the server refused enrolment (HTTP ${answer.status}); is ${base} a Hallpass server?`
        : `the server refused enrolment: ${refusal.message}`,
    );
  }
  const enrolled = validate(EnrollResponseSchema, answer.json);
  if (!enrolled.ok) {
    throw new EnrolmentError(
      'bad-response',
      201,
      `the server's enrolment answer is not valid: ${describeProblems(enrolled.problems)}`,
    );
  }
  const { deviceId, cloneSuspect } = enrolled.value;
  try {
    await options.store.write({
      schemaVersion: 1,
      serverUrl: base,
      deviceId,
      privateKeyPem: keys.privateKeyPem,
      enrolledAt: now().toISOString(),
    });
  } catch (error) {
    throw new EnrolmentError(
      'store-failed',
      null,
      `the server enrolled this device as ${deviceId}, but its credential could not be stored ` +
        `in ${options.store.location}: ${(error as Error).message}. Fix that, then ask ICT to ` +
        `allow the re-enrolment of device ${deviceId} and enrol again with --replace --device ${deviceId}.`,
      { cause: error },
    );
  }
  return { deviceId, cloneSuspect };
}
