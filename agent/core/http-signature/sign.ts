// Device side of request signing (ARCHITECTURE.md, "Identity and trust"): the P-256 key pair made
// at enrolment, and the Content-Digest, Signature-Input and Signature headers of every later
// request. The profile and its serialisation live in shared/http-signature.ts.
import {
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import {
  SIGNATURE_ALGORITHM,
  requestSignatureBase,
  serializeContentDigest,
  serializeSignature,
  serializeSignatureInput,
  signatureParamsValue,
} from '../../../shared/http-signature.ts';

/** A fresh device key pair: the private half stays on the device, the public half is enrolled. */
export interface DeviceKeyPair {
  privateKey: KeyObject;
  /** PKCS#8 PEM, for the root-only key store. */
  privateKeyPem: string;
  /** SPKI PEM of the public key, sent at enrolment. */
  publicKeyPem: string;
  /** The same public key as a JWK (`kty: 'EC', crv: 'P-256'`). */
  publicKeyJwk: JsonWebKey;
}

/** Generates a P-256 key pair for a device. */
export function generateDeviceKeyPair(): DeviceKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKey,
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    publicKeyJwk: publicKey.export({ format: 'jwk' }),
  };
}

/** The `Content-Digest` value (RFC 9530) of a body: `sha-256=:<base64>:`, empty body included. */
export function contentDigest(body: Uint8Array | string): string {
  return serializeContentDigest(createHash('sha256').update(body).digest('base64'));
}

/** What to sign. `url` is absolute; `now` sets `created`; `nonce` defaults to 16 random bytes. */
export interface SignRequestInput {
  method: string;
  url: string | URL;
  body: Uint8Array | string;
  keyId: string;
  privateKey: KeyObject | string;
  now: Date;
  nonce?: string;
}

/** The three headers a signed request carries. */
export interface SignedRequestHeaders {
  'content-digest': string;
  'signature-input': string;
  signature: string;
}

// Fetch's "normalize a method" upper-cases only these six (so `patch` goes out as `patch`): sign
// the method exactly as it will appear on the wire. https://fetch.spec.whatwg.org/#concept-method-normalize
const NORMALIZED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);

function normalizeMethod(method: string): string {
  const upper = method.toUpperCase();
  return NORMALIZED_METHODS.has(upper) ? upper : method;
}

/**
 * Signs a request under the Hallpass profile. `@path` and `@query` come from the WHATWG URL,
 * which is also what fetch puts on the wire, so the server sees the same request target.
 */
export function signRequest(input: SignRequestInput): SignedRequestHeaders {
  const key =
    typeof input.privateKey === 'string' ? createPrivateKey(input.privateKey) : input.privateKey;
  if (key.type !== 'private' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new TypeError('signRequest needs a P-256 private key');
  }
  const url = new URL(input.url);
  const digest = contentDigest(input.body);
  const signatureParams = signatureParamsValue({
    created: Math.floor(input.now.getTime() / 1000),
    nonce: input.nonce ?? randomBytes(16).toString('base64url'),
    keyid: input.keyId,
    alg: SIGNATURE_ALGORITHM,
  });
  const base = requestSignatureBase(
    {
      method: normalizeMethod(input.method),
      path: url.pathname,
      // An empty query ("…?") serialises as "" in WHATWG URL; RFC 9421 §2.2.7 makes both "?".
      query: url.search === '' ? '?' : url.search,
      contentDigest: digest,
    },
    signatureParams,
  );
  // RFC 9421 §3.3.4: the signature is the raw 64-byte r||s, not DER.
  const signature = sign('sha256', Buffer.from(base, 'utf8'), { key, dsaEncoding: 'ieee-p1363' });
  return {
    'content-digest': digest,
    'signature-input': serializeSignatureInput(signatureParams),
    signature: serializeSignature(signature.toString('base64')),
  };
}
