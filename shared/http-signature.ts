// HTTP Message Signatures (RFC 9421) with Content-Digest (RFC 9530), cut down to Hallpass's
// one profile: ecdsa-p256-sha256 over ("@method" "@path" "@query" "content-digest") with created,
// nonce, keyid and alg, label sig1. Pure string work: the crypto lives in agent/ and server/.
// Structured fields (RFC 8941) are parsed only as far as that profile needs, and strictly:
// anything the profile does not use (tokens, decimals, booleans, component parameters, other
// labels, duplicate keys) is rejected rather than ignored.

/** The label of the one signature a device request carries. */
export const SIGNATURE_LABEL = 'sig1';
/** The only algorithm accepted (RFC 9421 §3.3.4): ECDSA P-256, SHA-256, raw r||s signature. */
export const SIGNATURE_ALGORITHM = 'ecdsa-p256-sha256';
/** The covered components, exactly and in this order. */
export const COVERED_COMPONENTS = ['@method', '@path', '@query', 'content-digest'] as const;
/** Longest Signature-Input, Signature or Content-Digest value accepted, in characters. */
export const MAX_FIELD_LENGTH = 1024;
/** Longest keyid or nonce accepted, in characters. */
export const MAX_PARAM_LENGTH = 128;

/** The signature parameters of the profile (RFC 9421 §2.3). `created` is Unix seconds. */
export interface SignatureParams {
  created: number;
  nonce: string;
  keyid: string;
  alg: string;
}

/** Values of the covered components of one request (RFC 9421 §2.2). */
export interface RequestComponents {
  method: string;
  path: string;
  /** With its leading `?`; a request without a query has `?` (RFC 9421 §2.2.7). */
  query: string;
  contentDigest: string;
}

/** A parse that failed says why; nothing else about the input is trusted. */
export type Parsed<T> = ({ ok: true } & T) | { ok: false; reason: string };

type Bare = { type: 'string' | 'bytes'; value: string } | { type: 'integer'; value: number };
type Params = [string, Bare][];
type Member =
  | { type: 'inner'; items: string[]; params: Params }
  | { type: 'item'; value: Bare; params: Params };

class FieldError extends Error {}

// Sticky patterns for the RFC 8941 pieces the profile uses (§3.1.2 keys, §3.3 bare items).
const KEY = /[a-z*][a-z0-9_\-.*]*/y;
const STRING = /"((?:[ !#-[\]-~]|\\["\\])*)"/y;
const BYTES = /:((?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?):/y;
const INTEGER = /-?[0-9]{1,15}/y;

/** Parses an RFC 8941 Dictionary whose members are inner lists of strings or bare items. */
function parseDictionary(input: string): [string, Member][] {
  if (input.length > MAX_FIELD_LENGTH) {
    throw new FieldError(`longer than ${MAX_FIELD_LENGTH} characters`);
  }
  const s = input.replace(/^ +| +$/g, '');
  let i = 0;
  function fail(what: string): never {
    throw new FieldError(`${what} at character ${i}`);
  }
  function eat(pattern: RegExp): RegExpExecArray | null {
    pattern.lastIndex = i;
    const match = pattern.exec(s);
    if (match) {
      i = pattern.lastIndex;
    }
    return match;
  }
  const key = (): string => eat(KEY)?.[0] ?? fail('expected a key');
  function bare(): Bare {
    const string = eat(STRING);
    if (string) {
      return { type: 'string', value: (string[1] ?? '').replace(/\\(["\\])/g, '$1') };
    }
    const bytes = eat(BYTES);
    if (bytes) {
      return { type: 'bytes', value: bytes[1] ?? '' };
    }
    const integer = eat(INTEGER);
    return integer
      ? { type: 'integer', value: Number(integer[0]) }
      : fail('expected a string, byte sequence or integer');
  }
  function params(): Params {
    const out: Params = [];
    while (eat(/; */y)) {
      const name = key();
      if (out.some(([k]) => k === name)) {
        fail(`duplicate parameter ${name}`);
      }
      if (!eat(/=/y)) {
        fail(`parameter ${name} has no value`);
      }
      out.push([name, bare()]);
    }
    return out;
  }
  const members: [string, Member][] = [];
  for (;;) {
    const name = key();
    if (members.some(([k]) => k === name)) {
      fail(`duplicate member ${name}`);
    }
    if (!eat(/=/y)) {
      fail(`member ${name} has no value`);
    }
    if (eat(/\( */y)) {
      const items: string[] = [];
      while (!eat(/\)/y)) {
        const item = bare();
        if (item.type !== 'string') {
          return fail('component identifiers must be strings');
        }
        items.push(item.value);
        if (!eat(/ +/y) && s[i] !== ')') {
          fail('expected a space or ) in inner list');
        }
      }
      members.push([name, { type: 'inner', items, params: params() }]);
    } else {
      members.push([name, { type: 'item', value: bare(), params: params() }]);
    }
    eat(/[ \t]*/y);
    if (i === s.length) {
      return members;
    }
    if (!eat(/,[ \t]*/y)) {
      fail('expected a comma');
    }
    if (i === s.length) {
      fail('trailing comma');
    }
  }
}

function attempt<T>(parse: () => T): Parsed<T> {
  try {
    return { ok: true, ...parse() };
  } catch (error) {
    if (error instanceof FieldError) {
      return { ok: false, reason: error.message };
    }
    throw error;
  }
}

/** The one member a profile field carries, under `label`. */
function only(input: string, label: string): Member {
  const members = parseDictionary(input);
  const [first] = members;
  if (members.length !== 1 || first === undefined || first[0] !== label) {
    throw new FieldError(`expected exactly one member, labelled ${label}`);
  }
  return first[1];
}

function sfString(value: string): string {
  if (!/^[ -~]*$/.test(value)) {
    throw new RangeError(`not a printable ASCII string: ${JSON.stringify(value)}`);
  }
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

function sfBare(value: string | number): string {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || Math.abs(value) > 999_999_999_999_999) {
      throw new RangeError(`not a structured-field integer: ${value}`);
    }
    return String(value);
  }
  return sfString(value);
}

/** Serialises a covered-components inner list with parameters (RFC 9421 §2.3), in the order given. */
export function serializeSignatureParams(
  components: readonly string[],
  params: readonly (readonly [string, string | number])[],
): string {
  const list = components.map(sfString).join(' ');
  return `(${list})${params.map(([k, v]) => `;${k}=${sfBare(v)}`).join('')}`;
}

/** The profile's `@signature-params` value: created, nonce, keyid, alg, in that order. */
export function signatureParamsValue(params: SignatureParams): string {
  if (![params.nonce, params.keyid].every((v) => v.length > 0 && v.length <= MAX_PARAM_LENGTH)) {
    throw new RangeError(`nonce and keyid must be 1..${MAX_PARAM_LENGTH} characters`);
  }
  return serializeSignatureParams(COVERED_COMPONENTS, [
    ['created', params.created],
    ['nonce', params.nonce],
    ['keyid', params.keyid],
    ['alg', params.alg],
  ]);
}

/**
 * The signature base of RFC 9421 §2.5 for any list of (lowercase) component names and their
 * values: one `"name": value` line each, then `"@signature-params": …`, no trailing newline.
 */
export function buildSignatureBase(
  components: readonly (readonly [string, string])[],
  signatureParams: string,
): string {
  const lines = components.map(([name, value]) => {
    if (/[\r\n]/.test(value)) {
      throw new RangeError(`component ${name} contains a line break`);
    }
    return `${sfString(name)}: ${value}\n`;
  });
  return `${lines.join('')}"@signature-params": ${signatureParams}`;
}

/** The profile's signature base for one request. */
export function requestSignatureBase(request: RequestComponents, signatureParams: string): string {
  return buildSignatureBase(
    [
      ['@method', request.method],
      ['@path', request.path],
      ['@query', request.query],
      ['content-digest', request.contentDigest],
    ],
    signatureParams,
  );
}

/** Splits a request target (`/path?query`) into `@path` and `@query` values (RFC 9421 §2.2.6-7). */
export function splitRequestTarget(target: string): { path: string; query: string } {
  const at = target.indexOf('?');
  return at < 0
    ? { path: target, query: '?' }
    : { path: target.slice(0, at), query: target.slice(at) };
}

/** The `Signature-Input` field value for a serialised `@signature-params` value. */
export function serializeSignatureInput(signatureParams: string): string {
  return `${SIGNATURE_LABEL}=${signatureParams}`;
}

/** The `Signature` field value for a base64 signature. */
export function serializeSignature(signatureBase64: string): string {
  return `${SIGNATURE_LABEL}=:${signatureBase64}:`;
}

/** The `Content-Digest` field value for a base64 SHA-256 digest. */
export function serializeContentDigest(sha256Base64: string): string {
  return `sha-256=:${sha256Base64}:`;
}

/**
 * Parses a `Signature-Input` value under the profile. On success, `signatureParams` is the
 * `@signature-params` value to verify against, re-serialised in the order received.
 */
export function parseSignatureInput(
  value: string,
): Parsed<{ params: SignatureParams; signatureParams: string }> {
  return attempt(() => {
    const member = only(value, SIGNATURE_LABEL);
    if (member.type !== 'inner') {
      throw new FieldError('expected a list of covered components');
    }
    if (member.items.join(' ') !== COVERED_COMPONENTS.join(' ')) {
      throw new FieldError(`covered components must be (${COVERED_COMPONENTS.join(' ')})`);
    }
    const found: Partial<SignatureParams> = {};
    for (const [name, bare] of member.params) {
      if (name === 'created' && bare.type === 'integer' && bare.value >= 0) {
        found.created = bare.value;
      } else if ((name === 'nonce' || name === 'keyid') && bare.type === 'string') {
        if (bare.value.length === 0 || bare.value.length > MAX_PARAM_LENGTH) {
          throw new FieldError(`${name} must be 1..${MAX_PARAM_LENGTH} characters`);
        }
        found[name] = bare.value;
      } else if (name === 'alg' && bare.type === 'string') {
        if (bare.value !== SIGNATURE_ALGORITHM) {
          throw new FieldError(`alg must be ${SIGNATURE_ALGORITHM}`);
        }
        found.alg = bare.value;
      } else {
        throw new FieldError(`unexpected or mistyped parameter ${name}`);
      }
    }
    const { created, nonce, keyid, alg } = found;
    if (created === undefined || nonce === undefined || keyid === undefined || alg === undefined) {
      throw new FieldError('created, nonce, keyid and alg are all required');
    }
    const ordered = member.params.map(([k, b]) => [k, b.value] as const);
    const signatureParams = serializeSignatureParams(member.items, ordered);
    return { params: { created, nonce, keyid, alg }, signatureParams };
  });
}

/** Parses a `Signature` value: one `sig1` byte sequence of 64 bytes, returned as base64. */
export function parseSignature(value: string): Parsed<{ signature: string }> {
  return attempt(() => {
    const member = only(value, SIGNATURE_LABEL);
    if (member.type !== 'item' || member.value.type !== 'bytes' || member.params.length > 0) {
      throw new FieldError('expected a byte sequence without parameters');
    }
    // 64 bytes of r||s are 88 base64 characters ending in "==".
    if (member.value.value.length !== 88) {
      throw new FieldError('an ecdsa-p256-sha256 signature is 64 bytes');
    }
    return { signature: member.value.value };
  });
}

/** Parses a `Content-Digest` value (RFC 9530 §2) and returns its `sha-256` digest as base64. */
export function parseContentDigest(value: string): Parsed<{ sha256: string }> {
  return attempt(() => {
    const digest = parseDictionary(value).find(([name]) => name === 'sha-256')?.[1];
    if (digest === undefined) {
      throw new FieldError('no sha-256 digest');
    }
    if (digest.type !== 'item' || digest.value.type !== 'bytes' || digest.params.length > 0) {
      throw new FieldError('sha-256 must be a byte sequence without parameters');
    }
    // 32 bytes are 44 base64 characters ending in one "=".
    if (digest.value.value.length !== 44) {
      throw new FieldError('a sha-256 digest is 32 bytes');
    }
    return { sha256: digest.value.value };
  });
}
