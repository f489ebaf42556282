import { createHash, createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  COVERED_COMPONENTS,
  SIGNATURE_ALGORITHM,
  SIGNATURE_LABEL,
  buildSignatureBase,
  parseContentDigest,
  parseSignature,
  parseSignatureInput,
  requestSignatureBase,
  serializeContentDigest,
  serializeSignature,
  serializeSignatureInput,
  serializeSignatureParams,
  signatureParamsValue,
  splitRequestTarget,
} from '../../shared/http-signature.ts';
import { RFC_P256_PUBLIC_PEM } from '../helpers/rfc9421-key.ts';

// RFC 9421 Appendix B.2 `test-response` content and its Content-Digest.
const RFC_RESPONSE_BODY = '{"message": "good dog"}';
const RFC_RESPONSE_DIGEST =
  'sha-512=:mEWXIS7MaLRuGgxOBdODa3xqM1XdEvxoYhvlCFJ41QJgJc4GTsPp29l5oGX69wWdXymyU0rjJuahq4l5aGgfLQ==:';

// RFC 9421 Appendix B.3: the Client-Cert value the TLS-terminating proxy adds.
const RFC_CLIENT_CERT = [
  ':MIIBqDCCAU6gAwIBAgIBBzAKBggqhkjOPQQDAjA6MRswGQYDVQQK',
  'DBJMZXQncyBBdXRoZW50aWNhdGUxGzAZBgNVBAMMEkxBIEludGVybWVkaWF0ZSBD',
  'QTAeFw0yMDAxMTQyMjU1MzNaFw0yMTAxMjMyMjU1MzNaMA0xCzAJBgNVBAMMAkJDM',
  'FkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8YnXXfaUgmnMtOXU/IncWalRhebrXm',
  'ckC8vdgJ1p5Be5F/3YC8OthxM4+k1M6aEAEFcGzkJiNy6J84y7uzo9M6NyMHAwCQY',
  'DVR0TBAIwADAfBgNVHSMEGDAWgBRm3WjLa38lbEYCuiCPct0ZaSED2DAOBgNVHQ8B',
  'Af8EBAMCBsAwEwYDVR0lBAwwCgYIKwYBBQUHAwIwHQYDVR0RAQH/BBMwEYEPYmRjQ',
  'GV4YW1wbGUuY29tMAoGCCqGSM49BAMCA0gAMEUCIBHda/r1vaL6G3VliL4/Di6YK0',
  'Q6bMjeSkC3dFCOOB8TAiEAx/kHSB4urmiZ0NX5r5XarmPk0wmuydBVoU4hBVZ1yhk=:',
].join('');

function verifiesWithRfcKey(base: string, signatureBase64: string): boolean {
  return verify(
    'sha256',
    Buffer.from(base, 'utf8'),
    { key: createPublicKey(RFC_P256_PUBLIC_PEM), dsaEncoding: 'ieee-p1363' },
    Buffer.from(signatureBase64, 'base64'),
  );
}

describe('RFC 9421 test vectors', () => {
  it('B.2.4: rebuilds the signature base of the ecdsa-p256-sha256 response example', () => {
    const params = serializeSignatureParams(
      ['@status', 'content-type', 'content-digest', 'content-length'],
      [
        ['created', 1618884473],
        ['keyid', 'test-key-ecc-p256'],
      ],
    );
    expect(`sig-b24=${params}`).toBe(
      'sig-b24=("@status" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-ecc-p256"',
    );
    const base = buildSignatureBase(
      [
        ['@status', '200'],
        ['content-type', 'application/json'],
        ['content-digest', RFC_RESPONSE_DIGEST],
        ['content-length', '23'],
      ],
      params,
    );
    // RFC 9421 B.2.4, with its RFC 8792 line wrapping undone.
    expect(base).toBe(
      [
        '"@status": 200',
        '"content-type": application/json',
        '"content-digest": sha-512=:mEWXIS7MaLRuGgxOBdODa3xqM1XdEvxoYhvlCFJ41QJgJc4GTsPp29l5oGX69wWdXymyU0rjJuahq4l5aGgfLQ==:',
        '"content-length": 23',
        '"@signature-params": ("@status" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-ecc-p256"',
      ].join('\n'),
    );
    // Signature: sig-b24=:…: as published in B.2.4; ECDSA is randomised, so verify, not compare.
    const published =
      'wNmSUAhwb5LxtOtOpNa6W5xj067m5hFrj0XQ4fvpaCLx0NKocgPquLgyahnzDnDAUy5eCdlYUEkLIj+32oiasw==';
    expect(verifiesWithRfcKey(base, published)).toBe(true);
    expect(verifiesWithRfcKey(base.replace('200', '201'), published)).toBe(false);
  });

  it('B.2.4: the response Content-Digest is the SHA-512 of the response body', () => {
    const sha512 = createHash('sha512').update(RFC_RESPONSE_BODY).digest('base64');
    expect(`sha-512=:${sha512}:`).toBe(RFC_RESPONSE_DIGEST);
  });

  it('B.3: rebuilds and verifies the ecdsa-p256-sha256 proxy example, which covers @path and @query', () => {
    const target = splitRequestTarget('/foo?param=Value&Pet=dog');
    const params = serializeSignatureParams(
      ['@path', '@query', '@method', '@authority', 'client-cert'],
      [
        ['created', 1618884473],
        ['keyid', 'test-key-ecc-p256'],
      ],
    );
    const base = buildSignatureBase(
      [
        ['@path', target.path],
        ['@query', target.query],
        ['@method', 'POST'],
        ['@authority', 'service.internal.example'],
        ['client-cert', RFC_CLIENT_CERT],
      ],
      params,
    );
    expect(base.split('\n').slice(0, 4)).toEqual([
      '"@path": /foo',
      '"@query": ?param=Value&Pet=dog',
      '"@method": POST',
      '"@authority": service.internal.example',
    ]);
    expect(
      base.endsWith(
        '\n"@signature-params": ("@path" "@query" "@method" "@authority" "client-cert");created=1618884473;keyid="test-key-ecc-p256"',
      ),
    ).toBe(true);
    // Signature: ttrp=:…: as published in B.3.
    const published =
      'xVMHVpawaAC/0SbHrKRs9i8I3eOs5RtTMGCWXm/9nvZzoHsIg6Mce9315T6xoklyy0yzhD9ah4JHRwMLOgmizw==';
    expect(verifiesWithRfcKey(base, published)).toBe(true);
    expect(verifiesWithRfcKey(base.replace('Pet=dog', 'Pet=cat'), published)).toBe(false);
  });

  it('rejects the RFC examples under our profile, whose components differ', () => {
    const b24 =
      'sig-b24=("@status" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-ecc-p256"';
    expect(parseSignatureInput(b24)).toMatchObject({ ok: false });
    expect(parseSignatureInput(b24.replace('sig-b24', 'sig1'))).toMatchObject({
      ok: false,
      reason: expect.stringContaining('covered components') as unknown,
    });
  });
});

describe('RFC 9530 Content-Digest', () => {
  it.each([
    // RFC 9530 §2: a dictionary with two digests; we take sha-256.
    [
      'sha-256=:d435Qo+nKZ+gLcUHn7GQtQ72hiBVAgqoLsZnZPiTGPk=:,sha-512=:YMAam51Jz/jOATT6/zvHrLVgOYTGFy1d6GJiOHTohq4yP+pgk4vf2aCsyRZOtw8MjkM7iw7yZ/WkppmM44T3qg==:',
      'd435Qo+nKZ+gLcUHn7GQtQ72hiBVAgqoLsZnZPiTGPk=',
    ],
    // RFC 9530 Appendix B.1 and B.2.
    [
      'sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:',
      'RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=',
    ],
    [
      'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:',
      '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=',
    ],
    [
      '  sha-512=:YMAam51Jz/jOATT6/zvHrLVgOYTGFy1d6GJiOHTohq4yP+pgk4vf2aCsyRZOtw8MjkM7iw7yZ/WkppmM44T3qg==:, sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:  ',
      'X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=',
    ],
  ])('picks sha-256 from %s', (field, sha256) => {
    expect(parseContentDigest(field)).toEqual({ ok: true, sha256 });
  });

  it.each([
    [
      'only sha-512',
      'sha-512=:YMAam51Jz/jOATT6/zvHrLVgOYTGFy1d6GJiOHTohq4yP+pgk4vf2aCsyRZOtw8MjkM7iw7yZ/WkppmM44T3qg==:',
    ],
    ['RFC 3230 Digest syntax', 'SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE='],
    ['no colons', 'sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE='],
    ['a string', 'sha-256="X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="'],
    ['too short', 'sha-256=:AAAA:'],
    ['bad base64', 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBP*=:'],
    [
      'twice',
      'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:, sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:',
    ],
    ['with a parameter', 'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:;x=1'],
    ['empty', ''],
    [
      'over-long',
      `sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:, x=:${'A'.repeat(1100)}:`,
    ],
  ])('rejects %s', (_name, field) => {
    expect(parseContentDigest(field).ok).toBe(false);
  });

  it('serialises a sha-256 digest', () => {
    expect(serializeContentDigest('X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=')).toBe(
      'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:',
    );
  });
});

describe('the Hallpass profile', () => {
  const params = {
    created: 1735689600,
    nonce: 'q3Xw0d4pTzK1b9hP2mYc_A',
    keyid: 'dev_0123456789',
    alg: SIGNATURE_ALGORITHM,
  };
  const signatureParams =
    '("@method" "@path" "@query" "content-digest");created=1735689600;nonce="q3Xw0d4pTzK1b9hP2mYc_A";keyid="dev_0123456789";alg="ecdsa-p256-sha256"';
  const signatureInput = `sig1=${signatureParams}`;

  it('exports its constants', () => {
    expect(SIGNATURE_LABEL).toBe('sig1');
    expect(COVERED_COMPONENTS).toEqual(['@method', '@path', '@query', 'content-digest']);
  });

  it('serialises the signature parameters and headers', () => {
    expect(signatureParamsValue(params)).toBe(signatureParams);
    expect(serializeSignatureInput(signatureParams)).toBe(signatureInput);
    expect(serializeSignature('AAAA')).toBe('sig1=:AAAA:');
  });

  it('builds the signature base, ending with @signature-params and no newline', () => {
    const target = splitRequestTarget('/api/v1/report');
    expect(target).toEqual({ path: '/api/v1/report', query: '?' });
    const base = requestSignatureBase(
      {
        method: 'POST',
        ...target,
        contentDigest: 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:',
      },
      signatureParams,
    );
    expect(base).toBe(
      [
        '"@method": POST',
        '"@path": /api/v1/report',
        '"@query": ?',
        '"content-digest": sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:',
        `"@signature-params": ${signatureParams}`,
      ].join('\n'),
    );
  });

  it.each([
    ['/a?b=1&c=2', { path: '/a', query: '?b=1&c=2' }],
    ['/a?', { path: '/a', query: '?' }],
    ['/a?b?c', { path: '/a', query: '?b?c' }],
  ])('splits %s', (target, expected) => {
    expect(splitRequestTarget(target)).toEqual(expected);
  });

  it('parses its own Signature-Input back', () => {
    expect(parseSignatureInput(signatureInput)).toEqual({ ok: true, params, signatureParams });
  });

  it('keeps the order of parameters as received, since the signer signed that order', () => {
    const reordered =
      'sig1=("@method" "@path" "@query" "content-digest");alg="ecdsa-p256-sha256";keyid="k";nonce="n";created=1';
    const parsed = parseSignatureInput(reordered);
    expect(parsed).toMatchObject({ ok: true, params: { created: 1, nonce: 'n', keyid: 'k' } });
    expect(parsed.ok && `sig1=${parsed.signatureParams}`).toBe(reordered);
  });

  it('unescapes and re-escapes quoted strings', () => {
    const parsed = parseSignatureInput(signatureInput.replace('dev_0123456789', 'a\\"b\\\\c'));
    expect(parsed).toMatchObject({ ok: true, params: { keyid: 'a"b\\c' } });
    expect(parsed.ok && parsed.signatureParams).toContain('keyid="a\\"b\\\\c"');
  });

  const without = (name: string) => signatureInput.replace(new RegExp(`;${name}=[^;]*`), '');
  it.each([
    ['empty', ''],
    ['another label', signatureInput.replace('sig1=', 'sig2=')],
    ['two signatures', `${signatureInput}, sig2=${signatureParams}`],
    ['the same label twice', `${signatureInput}, ${signatureInput}`],
    ['trailing comma', `${signatureInput},`],
    ['no inner list', 'sig1="@method"'],
    ['unclosed inner list', 'sig1=("@method" "@path" "@query" "content-digest";created=1'],
    ['components missing', signatureInput.replace(' "@query"', '')],
    ['components reordered', signatureInput.replace('"@path" "@query"', '"@query" "@path"')],
    ['an extra component', signatureInput.replace('"content-digest"', '"content-digest" "date"')],
    ['a token component', signatureInput.replace('"@method"', '@method')],
    ['component parameters', signatureInput.replace('"content-digest"', '"content-digest";sf')],
    ['upper-case component', signatureInput.replace('"@method"', '"@METHOD"')],
    ['no space between components', signatureInput.replace('"@method" ', '"@method"')],
    ['created missing', without('created')],
    ['nonce missing', without('nonce')],
    ['keyid missing', without('keyid')],
    ['alg missing', without('alg')],
    ['wrong alg', signatureInput.replace('ecdsa-p256-sha256', 'ed25519')],
    ['alg as a token', signatureInput.replace('"ecdsa-p256-sha256"', 'ecdsa-p256-sha256')],
    ['decimal created', signatureInput.replace('created=1735689600', 'created=1735689600.5')],
    ['string created', signatureInput.replace('created=1735689600', 'created="1735689600"')],
    ['negative created', signatureInput.replace('created=1735689600', 'created=-1')],
    [
      'created beyond 15 digits',
      signatureInput.replace('created=1735689600', 'created=1234567890123456'),
    ],
    ['integer keyid', signatureInput.replace('"dev_0123456789"', '42')],
    ['empty nonce', signatureInput.replace('"q3Xw0d4pTzK1b9hP2mYc_A"', '""')],
    ['over-long keyid', signatureInput.replace('dev_0123456789', 'k'.repeat(129))],
    ['over-long field', signatureInput.replace('dev_0123456789', 'k'.repeat(1100))],
    ['duplicate created', `${signatureInput};created=1`],
    ['boolean parameter', `${signatureInput};x`],
    ['unknown parameter', `${signatureInput};expires=1735689700`],
    ['tag parameter', `${signatureInput};tag="x"`],
    ['bad escape', signatureInput.replace('dev_0123456789', 'a\\nb')],
    ['control character', signatureInput.replace('dev_0123456789', 'a\tb')],
    ['non-ASCII', signatureInput.replace('dev_0123456789', 'dév')],
    ['unterminated string', 'sig1=("@method" "@path" "@query" "content-digest");keyid="abc'],
    ['upper-case label', signatureInput.replace('sig1=', 'SIG1=')],
    ['garbage after', `${signatureInput} x`],
  ])('rejects %s', (_name, field) => {
    const parsed = parseSignatureInput(field);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.reason).not.toBe('');
  });

  const sig64 = Buffer.alloc(64, 7).toString('base64');
  it('parses a Signature of 64 bytes', () => {
    expect(parseSignature(`sig1=:${sig64}:`)).toEqual({ ok: true, signature: sig64 });
  });

  it.each([
    ['another label', `sig2=:${sig64}:`],
    ['a string', `sig1="${sig64}"`],
    ['DER-sized', `sig1=:${Buffer.alloc(71, 7).toString('base64')}:`],
    ['with a parameter', `sig1=:${sig64}:;x=1`],
    ['two signatures', `sig1=:${sig64}:, sig2=:${sig64}:`],
    ['bad base64', `sig1=:${sig64.replace('B', '-')}:`],
    ['unterminated', `sig1=:${sig64}`],
  ])('rejects a Signature with %s', (_name, field) => {
    expect(parseSignature(field).ok).toBe(false);
  });

  it('refuses to serialise values a parser would reject', () => {
    expect(() => signatureParamsValue({ ...params, keyid: '' })).toThrow(RangeError);
    expect(() => signatureParamsValue({ ...params, nonce: 'n'.repeat(129) })).toThrow(RangeError);
    expect(() => signatureParamsValue({ ...params, keyid: 'dév' })).toThrow(RangeError);
    expect(() => signatureParamsValue({ ...params, created: 1.5 })).toThrow(RangeError);
    expect(() => buildSignatureBase([['x', 'a\nb']], '()')).toThrow(RangeError);
  });
});
