import { createPrivateKey, createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RFC_P256_PRIVATE_PEM, RFC_P256_PUBLIC_PEM } from '../../../helpers/rfc9421-key.ts';
import {
  contentDigest,
  generateDeviceKeyPair,
  signRequest,
} from '../../../../agent/core/http-signature/sign.ts';
import { parseSignature, parseSignatureInput } from '../../../../shared/http-signature.ts';

const NOW = new Date('2025-01-01T00:00:00.000Z'); // 1735689600

describe('contentDigest', () => {
  it.each([
    // RFC 9530 Appendix D ("Sample Digest Values"): the JSON object {"hello": "world"}.
    ['{"hello": "world"}', 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:'],
    // RFC 9530 Appendix B.1: the same object followed by an LF (Content-Length: 19).
    ['{"hello": "world"}\n', 'sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:'],
    // RFC 9530 Appendix B.2: empty content.
    ['', 'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:'],
    // RFC 9530 Appendix B.3: the partial content, bytes 10-18.
    ['"world"}\n', 'sha-256=:jjcgBDWNAtbYUXI37CVG3gRuGOAjaaDRGpIUFsdyepQ=:'],
  ])('digests %j', (body, expected) => {
    expect(contentDigest(body)).toBe(expected);
    expect(contentDigest(new TextEncoder().encode(body))).toBe(expected);
  });
});

describe('generateDeviceKeyPair', () => {
  it('makes a P-256 pair whose exported halves match', () => {
    const pair = generateDeviceKeyPair();
    expect(pair.privateKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(pair.publicKeyJwk).toMatchObject({ kty: 'EC', crv: 'P-256' });
    expect(pair.publicKeyJwk).not.toHaveProperty('d');
    expect(pair.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(pair.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    const fromPem = createPublicKey(pair.publicKeyPem);
    const fromJwk = createPublicKey({ key: pair.publicKeyJwk, format: 'jwk' });
    expect(fromJwk.equals(fromPem)).toBe(true);
    expect(createPublicKey(createPrivateKey(pair.privateKeyPem)).equals(fromPem)).toBe(true);
  });

  it('makes a different pair each time', () => {
    expect(generateDeviceKeyPair().publicKeyPem).not.toBe(generateDeviceKeyPair().publicKeyPem);
  });
});

describe('signRequest', () => {
  const body = '{"hello": "world"}';

  it('signs method, path, query and Content-Digest with the RFC 9421 test key', () => {
    const headers = signRequest({
      method: 'POST',
      url: 'https://hallpass.example/api/v1/report?full=1',
      body,
      keyId: 'test-key-ecc-p256',
      privateKey: RFC_P256_PRIVATE_PEM,
      now: NOW,
      nonce: 'fixed-nonce-0001',
    });
    const params =
      '("@method" "@path" "@query" "content-digest");created=1735689600;nonce="fixed-nonce-0001";keyid="test-key-ecc-p256";alg="ecdsa-p256-sha256"';
    expect(headers['content-digest']).toBe(
      'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:',
    );
    expect(headers['signature-input']).toBe(`sig1=${params}`);
    expect(headers.signature).toMatch(/^sig1=:[A-Za-z0-9+/]{86}==:$/);

    // The base written out by hand, verified with the RFC's public key: raw r||s, not DER.
    const base = [
      '"@method": POST',
      '"@path": /api/v1/report',
      '"@query": ?full=1',
      '"content-digest": sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:',
      `"@signature-params": ${params}`,
    ].join('\n');
    const parsed = parseSignature(headers.signature);
    const signature = Buffer.from(parsed.ok ? parsed.signature : '', 'base64');
    expect(signature).toHaveLength(64);
    const key = createPublicKey(RFC_P256_PUBLIC_PEM);
    expect(verify('sha256', Buffer.from(base), { key, dsaEncoding: 'ieee-p1363' }, signature)).toBe(
      true,
    );
    expect(verify('sha256', Buffer.from(base), key, signature)).toBe(false); // not DER
  });

  it('signs "?" for a URL without a query, and for one with an empty query', () => {
    for (const url of ['https://h.example/x', 'https://h.example/x?']) {
      const { privateKey } = generateDeviceKeyPair();
      const headers = signRequest({
        method: 'GET',
        url,
        body: '',
        keyId: 'd',
        privateKey,
        now: NOW,
      });
      expect(headers['content-digest']).toBe(
        'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:',
      );
      const input = parseSignatureInput(headers['signature-input']);
      expect(input.ok).toBe(true);
    }
  });

  it('defaults the nonce to 16 random bytes, base64url', () => {
    const { privateKey } = generateDeviceKeyPair();
    const nonces = [1, 2].map(() => {
      const headers = signRequest({
        method: 'POST',
        url: new URL('https://h.example/r'),
        body,
        keyId: 'd',
        privateKey,
        now: NOW,
      });
      const input = parseSignatureInput(headers['signature-input']);
      return input.ok ? input.params.nonce : '';
    });
    expect(nonces[0]).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(nonces[0]).not.toBe(nonces[1]);
  });

  it('signs the method as fetch will send it', () => {
    const { privateKey } = generateDeviceKeyPair();
    const sign = (method: string) =>
      signRequest({ method, url: 'https://h.example/r', body, keyId: 'd', privateKey, now: NOW });
    // Checked through the signature: verify over the base with the expected method.
    const baseFor = (method: string, signatureInput: string) =>
      [
        `"@method": ${method}`,
        '"@path": /r',
        '"@query": ?',
        '"content-digest": sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:',
        `"@signature-params": ${signatureInput.slice('sig1='.length)}`,
      ].join('\n');
    const publicKey = createPublicKey(privateKey);
    for (const [given, wire] of [
      ['post', 'POST'],
      ['Put', 'PUT'],
      ['patch', 'patch'],
      ['PATCH', 'PATCH'],
    ] as const) {
      const headers = sign(given);
      const parsed = parseSignature(headers.signature);
      const signature = Buffer.from(parsed.ok ? parsed.signature : '', 'base64');
      const base = Buffer.from(baseFor(wire, headers['signature-input']));
      expect(verify('sha256', base, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)).toBe(
        true,
      );
    }
  });

  it('refuses a key that is not a P-256 private key', () => {
    const request = { method: 'GET', url: 'https://h.example/', body: '', keyId: 'd', now: NOW };
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    const ed25519 = generateKeyPairSync('ed25519').privateKey;
    const publicOnly = createPublicKey(RFC_P256_PUBLIC_PEM);
    for (const privateKey of [p384, ed25519, publicOnly]) {
      expect(() => signRequest({ ...request, privateKey })).toThrow(TypeError);
    }
  });

  it('refuses a relative URL', () => {
    const { privateKey } = generateDeviceKeyPair();
    expect(() =>
      signRequest({ method: 'GET', url: '/api', body: '', keyId: 'd', privateKey, now: NOW }),
    ).toThrow();
  });
});
