import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RFC_P256_PRIVATE_PEM, RFC_P256_PUBLIC_PEM } from '../../helpers/rfc9421-key.ts';
import { verifyRequest, type VerifyRequestInput } from '../../../server/auth/http-signature.ts';
// The device's signer, as the real counterpart: tests may cross layers that code may not.
import {
  contentDigest,
  generateDeviceKeyPair,
  signRequest,
} from '../../../agent/core/http-signature/sign.ts';

const NOW = new Date('2025-01-01T00:00:00.000Z');
const NOW_S = 1735689600;
const deviceA = generateDeviceKeyPair();
const deviceB = generateDeviceKeyPair();
const keys = new Map<string, KeyObject>([
  ['device-a', createPublicKey(deviceA.publicKeyPem)],
  ['device-b', createPublicKey(deviceB.publicKeyPem)],
  ['test-key-ecc-p256', createPublicKey(RFC_P256_PUBLIC_PEM)],
]);
const body = new TextEncoder().encode('{"deviceId":"device-a","checks":[]}');

interface Sent {
  method?: string;
  url?: string;
  body?: Uint8Array;
  keyId?: string;
  privateKey?: KeyObject | string;
  signedAt?: Date;
}

/** Signs as the device would, then builds what the server receives. */
function received(sent: Sent = {}): VerifyRequestInput {
  const url = sent.url ?? '/api/v1/report?full=1';
  const headers = signRequest({
    method: sent.method ?? 'POST',
    url: new URL(url, 'https://hallpass.example'),
    body: sent.body ?? body,
    keyId: sent.keyId ?? 'device-a',
    privateKey: sent.privateKey ?? deviceA.privateKey,
    now: sent.signedAt ?? NOW,
  });
  return {
    method: (sent.method ?? 'POST').toUpperCase(),
    url,
    headers: { host: 'hallpass.example', 'content-type': 'application/json', ...headers },
    body: sent.body ?? body,
    lookupKey: (keyId) => Promise.resolve(keys.get(keyId) ?? null),
    now: NOW,
    maxSkewSeconds: 300,
  };
}

function withHeaders(
  input: VerifyRequestInput,
  changes: Record<string, string | string[] | undefined>,
) {
  return { ...input, headers: { ...input.headers, ...changes } };
}

describe('verifyRequest', () => {
  it('accepts a request signed by the device its keyid names', async () => {
    const result = await verifyRequest(received());
    expect(result).toMatchObject({ ok: true, keyId: 'device-a', created: NOW_S });
    expect(result.ok && result.nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('accepts a request signed with the RFC 9421 test key (B.1.3)', async () => {
    const input = received({ keyId: 'test-key-ecc-p256', privateKey: RFC_P256_PRIVATE_PEM });
    expect(await verifyRequest(input)).toMatchObject({ ok: true, keyId: 'test-key-ecc-p256' });
  });

  it('accepts an empty body, a request without a query, and header names in any case', async () => {
    const empty = new Uint8Array();
    const input = received({ method: 'GET', url: '/api/v1/policy', body: empty });
    const upper = Object.fromEntries(
      Object.entries(input.headers).map(([k, v]) => [k.toUpperCase(), v]),
    );
    expect(await verifyRequest({ ...input, headers: upper })).toMatchObject({
      ok: true,
    });
  });

  it('treats a trailing "?" as no query (RFC 9421 §2.2.7)', async () => {
    const input = received({ url: '/api/v1/report' });
    expect(await verifyRequest({ ...input, url: '/api/v1/report?' })).toMatchObject({ ok: true });
  });

  it('refuses a request without a signature', async () => {
    const input = received();
    for (const missing of ['signature', 'signature-input']) {
      expect(await verifyRequest(withHeaders(input, { [missing]: undefined }))).toMatchObject({
        ok: false,
        status: 401,
        code: 'missing-signature',
      });
    }
  });

  it('refuses a request without a Content-Digest', async () => {
    const input = withHeaders(received(), { 'content-digest': undefined });
    expect(await verifyRequest(input)).toMatchObject({
      ok: false,
      status: 400,
      code: 'bad-content-digest',
    });
  });

  it('refuses a tampered body', async () => {
    const input = received();
    const tampered = new TextEncoder().encode('{"deviceId":"device-a","checks":[1]}');
    expect(await verifyRequest({ ...input, body: tampered })).toMatchObject({
      ok: false,
      status: 400,
      code: 'digest-mismatch',
    });
  });

  it('refuses a body swapped together with its digest: the signature covers the digest', async () => {
    const other = new TextEncoder().encode('{"deviceId":"device-b","checks":[]}');
    const input = withHeaders(received(), { 'content-digest': contentDigest(other) });
    expect(await verifyRequest({ ...input, body: other })).toMatchObject({
      ok: false,
      status: 401,
      code: 'bad-signature',
    });
  });

  it('refuses a digest header of another body', async () => {
    const other = contentDigest('{}');
    expect(await verifyRequest(withHeaders(received(), { 'content-digest': other }))).toMatchObject(
      { ok: false, code: 'digest-mismatch' },
    );
  });

  it("refuses device A's keyid on a request signed with device B's key", async () => {
    const input = received({ keyId: 'device-a', privateKey: deviceB.privateKey });
    expect(await verifyRequest(input)).toMatchObject({
      ok: false,
      status: 401,
      code: 'bad-signature',
    });
  });

  it('refuses an unknown keyid, and a stored key that is not P-256', async () => {
    const unknown = received({ keyId: 'device-z' });
    expect(await verifyRequest(unknown)).toMatchObject({ ok: false, code: 'unknown-key' });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey;
    const lookupKey = () => Promise.resolve(p384);
    expect(await verifyRequest({ ...received(), lookupKey })).toMatchObject({
      ok: false,
      status: 401,
      code: 'unknown-key',
    });
  });

  it.each([
    ['too old', -301],
    ['too new', 301],
  ])('refuses a signature created %s, and tells the device the server time', async (_n, skew) => {
    const input = received({ signedAt: new Date(NOW.getTime() + skew * 1000) });
    let looked = false;
    const lookupKey = (keyId: string) => {
      looked = true;
      return input.lookupKey(keyId);
    };
    expect(await verifyRequest({ ...input, lookupKey })).toEqual({
      ok: false,
      status: 401,
      code: 'stale',
      message: expect.any(String) as unknown,
      serverTime: NOW_S,
    });
    expect(looked).toBe(false);
  });

  it.each([-300, 300])('accepts a signature created %ss away, at the edge', async (skew) => {
    const input = received({ signedAt: new Date(NOW.getTime() + skew * 1000) });
    expect(await verifyRequest(input)).toMatchObject({ ok: true, created: NOW_S + skew });
  });

  it.each([
    ['the path', { url: '/api/v1/enrol?full=1' }],
    ['the query', { url: '/api/v1/report?full=0' }],
    ['the query order (a TLS-inspecting proxy rewriting it)', { url: '/api/v1/report?full=1&x=2' }],
    ['a query dropped', { url: '/api/v1/report' }],
    ['a query added', { url: '/api/v1/report?full=1&utm_source=filter' }],
    ['percent-encoding', { url: '/api/v1/re%70ort?full=1' }],
    ['the method', { method: 'PUT' }],
  ])('refuses a request whose %s was altered', async (_name, change) => {
    const input = { ...received(), ...change };
    expect(await verifyRequest(input)).toMatchObject({
      ok: false,
      status: 401,
      code: 'bad-signature',
    });
  });

  it('refuses the query a proxy reordered', async () => {
    const input = received({ url: '/api/v1/report?a=1&b=2' });
    expect(await verifyRequest({ ...input, url: '/api/v1/report?b=2&a=1' })).toMatchObject({
      ok: false,
      code: 'bad-signature',
    });
  });

  it('refuses a signature over another nonce or created (the parameters are signed)', async () => {
    const input = received();
    const signatureInput = String(input.headers['signature-input']);
    for (const changed of [
      signatureInput.replace(/nonce="[^"]*"/, 'nonce="replayed-with-new-nonce"'),
      signatureInput.replace(`created=${NOW_S}`, `created=${NOW_S + 1}`),
      signatureInput.replace('keyid="device-a"', 'keyid="device-b"'),
    ]) {
      expect(await verifyRequest(withHeaders(input, { 'signature-input': changed }))).toMatchObject(
        { ok: false, code: 'bad-signature' },
      );
    }
  });

  it.each([
    ['another label', (v: string) => v.replace('sig1=', 'sig2=')],
    ['fewer components', (v: string) => v.replace(' "@query"', '')],
    ['another algorithm', (v: string) => v.replace('ecdsa-p256-sha256', 'rsa-pss-sha512')],
    ['no nonce', (v: string) => v.replace(/;nonce="[^"]*"/, '')],
    ['no created', (v: string) => v.replace(/;created=\d+/, '')],
    ['created as a decimal', (v: string) => v.replace(/created=(\d+)/, 'created=$1.0')],
    ['garbage', () => 'hello'],
  ])('refuses a Signature-Input with %s', async (_name, change) => {
    const input = received();
    const changed = change(String(input.headers['signature-input']));
    expect(await verifyRequest(withHeaders(input, { 'signature-input': changed }))).toMatchObject({
      ok: false,
      status: 400,
      code: 'bad-signature-input',
    });
  });

  it('refuses repeated signature headers', async () => {
    const input = received();
    const again = received();
    const both = [String(input.headers.signature), String(again.headers.signature)];
    expect(await verifyRequest(withHeaders(input, { signature: both }))).toMatchObject({
      ok: false,
      code: 'bad-signature-input',
    });
  });

  it('refuses a DER-encoded signature', async () => {
    const der = Buffer.alloc(71, 1).toString('base64');
    expect(
      await verifyRequest(withHeaders(received(), { signature: `sig1=:${der}:` })),
    ).toMatchObject({ ok: false, code: 'bad-signature-input' });
  });

  it('refuses a signature of the right shape that does not verify', async () => {
    const zeros = Buffer.alloc(64).toString('base64');
    expect(
      await verifyRequest(withHeaders(received(), { signature: `sig1=:${zeros}:` })),
    ).toMatchObject({ ok: false, status: 401, code: 'bad-signature' });
  });
});
