// Server side of request signing (ARCHITECTURE.md, "Identity and trust"): checks that a device
// request carries a valid RFC 9421 signature under the Hallpass profile, over the method, path,
// query and an RFC 9530 Content-Digest that matches the body. Replay (a nonce seen before) is
// the caller's job, in the database; this returns the nonce for it.
import { createHash, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import {
  parseContentDigest,
  parseSignature,
  parseSignatureInput,
  requestSignatureBase,
  splitRequestTarget,
} from '../../shared/http-signature.ts';

/** A request as received. `url` is the raw request target (`/path?query`); `body` the raw bytes. */
export interface VerifyRequestInput {
  method: string;
  url: string;
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  body: Uint8Array;
  /** The enrolled public key of a device id, or null when there is none (or it is revoked). */
  lookupKey: (keyId: string) => Promise<KeyObject | null>;
  now: Date;
  /** How far `created` may be from `now`, either way. */
  maxSkewSeconds: number;
}

/** Why a request was refused. */
export type VerifyFailureCode =
  | 'missing-signature'
  | 'bad-signature-input'
  | 'bad-content-digest'
  | 'digest-mismatch'
  | 'stale'
  | 'unknown-key'
  | 'bad-signature';

/** The outcome: the verified device id, or a status and code for the response. */
export type VerifyResult =
  | { ok: true; keyId: string; created: number; nonce: string }
  | {
      ok: false;
      status: 400 | 401;
      code: VerifyFailureCode;
      message: string;
      /** Unix seconds, on `stale` only, so a device whose clock is wrong can correct for it. */
      serverTime?: number;
    };

function header(headers: VerifyRequestInput['headers'], name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name && value !== undefined) {
      // Repeated field lines combine with ", " (RFC 9110 §5.3); the strict parsers then reject
      // the duplicate label that results.
      return typeof value === 'string' ? value : value.join(', ');
    }
  }
  return undefined;
}

function refuse(status: 400 | 401, code: VerifyFailureCode, message: string): VerifyResult {
  return { ok: false, status, code, message };
}

/** Verifies a device request's signature and content digest. Never throws on bad input. */
export async function verifyRequest(input: VerifyRequestInput): Promise<VerifyResult> {
  const signatureInputField = header(input.headers, 'signature-input');
  const signatureField = header(input.headers, 'signature');
  if (signatureInputField === undefined || signatureField === undefined) {
    return refuse(401, 'missing-signature', 'Signature and Signature-Input headers are required');
  }
  const signatureInput = parseSignatureInput(signatureInputField);
  if (!signatureInput.ok) {
    return refuse(400, 'bad-signature-input', `Signature-Input: ${signatureInput.reason}`);
  }
  const signature = parseSignature(signatureField);
  if (!signature.ok) {
    return refuse(400, 'bad-signature-input', `Signature: ${signature.reason}`);
  }
  const digestField = header(input.headers, 'content-digest');
  if (digestField === undefined) {
    return refuse(400, 'bad-content-digest', 'Content-Digest header is required');
  }
  const digest = parseContentDigest(digestField);
  if (!digest.ok) {
    return refuse(400, 'bad-content-digest', `Content-Digest: ${digest.reason}`);
  }

  const { created, nonce, keyid } = signatureInput.params;
  const now = Math.floor(input.now.getTime() / 1000);
  if (Math.abs(now - created) > input.maxSkewSeconds) {
    return {
      ok: false,
      status: 401,
      code: 'stale',
      message: `signature created at ${created}, server time is ${now}`,
      serverTime: now,
    };
  }

  const actual = createHash('sha256').update(input.body).digest();
  if (!timingSafeEqual(actual, Buffer.from(digest.sha256, 'base64'))) {
    return refuse(400, 'digest-mismatch', 'Content-Digest does not match the body');
  }

  const key = await input.lookupKey(keyid);
  if (key === null) {
    return refuse(401, 'unknown-key', 'no device with this keyid');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    return refuse(401, 'unknown-key', 'the key of this device is not a P-256 key');
  }

  const { path, query } = splitRequestTarget(input.url);
  const base = requestSignatureBase(
    { method: input.method, path, query, contentDigest: digestField.trim() },
    signatureInput.signatureParams,
  );
  // RFC 9421 §3.3.4: raw r||s (IEEE P1363), not DER.
  const valid = verify(
    'sha256',
    Buffer.from(base, 'utf8'),
    { key, dsaEncoding: 'ieee-p1363' },
    Buffer.from(signature.signature, 'base64'),
  );
  if (!valid) {
    return refuse(401, 'bad-signature', 'signature does not verify');
  }
  return { ok: true, keyId: keyid, created, nonce };
}
