// The device side of the server's device API (ARCHITECTURE.md, "Identity and trust"; "Reports,
// events, outbox"): every request signed with the device key (RFC 9421), bounded in time and
// size, and every answer turned into a value the service can act on. Nothing here throws for
// an expected failure: an outage, a refusal or a hostile answer is a `failed` outcome.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import {
  AgentEventSchema,
  ApiErrorSchema,
  AupSignaturesResponseSchema,
  decodeDeviceGroup,
  DEVICE_GROUP_HEADER,
  ComplianceReportSchema,
  describeProblems,
  IngestResponseSchema,
  REPORT_DIGEST_HEADER,
  validate,
  type ApiError,
  type AupSignaturesResponse,
  type ReportBatch,
} from '../../shared/index.ts';
import { signRequest } from './http-signature/sign.ts';
import {
  HttpTransportError,
  nodeTransport,
  type AnswerHeaders,
  type RawAnswer,
  type Transport,
} from './http-transport.ts';
import { parseRetryAfter } from './outbox/backoff.ts';
import type { SendOutcome } from './outbox/deliver.ts';
import type { DeviceCredential } from './secrets/secret-store.ts';

/** What a policy fetch found. */
export type PolicyFetch =
  | { kind: 'policy'; text: string; etag: string | null; deviceGroup?: string | null }
  | { kind: 'not-modified'; deviceGroup?: string | null }
  | { kind: 'no-policy' }
  | { kind: 'failed'; error: unknown };

/** What a lookup of a user's AUP signatures found. */
export type AupSignaturesFetch =
  { kind: 'signatures'; answer: AupSignaturesResponse } | { kind: 'failed'; error: unknown };

/** A request that did not get a usable answer. `code` is the server's error code or ours. */
export class ServerRequestError extends Error {
  readonly code: string;
  readonly status: number | null;
  constructor(code: string, status: number | null, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ServerRequestError';
    this.code = code;
    this.status = status;
  }
}

/** Options of a ServerClient. `transport` and `now` are injectable for tests. */
export interface ServerClientOptions {
  credential: DeviceCredential;
  transport?: Transport;
  now?: () => Date;
  /** Whole request, answer included (default 30 s). */
  timeoutMs?: number;
  /** A clock offset learnt earlier (server time − local time), if the caller kept one. */
  clockOffsetMs?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;
// The policy parser refuses more than 1 MiB of text; a little more is read so it can say so.
const MAX_POLICY_RESPONSE_BYTES = 2 * 1024 * 1024;
const MAX_RESPONSE_BYTES = 256 * 1024;
// Codes with which the server refuses the content of a batch rather than the request.
const CONTENT_REFUSALS = new Set(['invalid-request', 'invalid-data', 'too-large']);

/**
 * Checks and normalises a server URL: https, or plain http only to a loopback host (TLS
 * everywhere except loopback); no credentials, query or fragment; no trailing slash.
 * Throws a RangeError whose message says what to change.
 */
export function normalizeServerUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new RangeError(`the server URL ${JSON.stringify(text)} is not a URL`);
  }
  const loopback = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i.test(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new RangeError(
      `the server URL ${url.origin} must use https:// (plain http is allowed only to ` +
        'localhost, for a demo or a test)',
    );
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new RangeError('the server URL must not carry a user name, password, query or fragment');
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** An answer, read completely and within its size bound. */
export interface Answer {
  status: number;
  headers: AnswerHeaders;
  text: string;
  /** The body as JSON, or undefined when it is not JSON. */
  json: unknown;
}

/** An answer as the callers read it: the body as text, and as JSON when it is JSON. */
export function toAnswer(raw: RawAnswer): Answer {
  const text = raw.body.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: raw.status, headers: raw.headers, text, json };
}

/** The server's error body, when it sent a well-formed one. */
export function apiError(answer: Answer): ApiError | null {
  const checked = validate(ApiErrorSchema, answer.json);
  return checked.ok ? checked.value : null;
}

/** A network failure, timeout or oversized answer as a ServerRequestError naming the server. */
export function transportError(error: unknown, url: string): ServerRequestError {
  if (error instanceof ServerRequestError) {
    return error;
  }
  if (error instanceof HttpTransportError && error.code === 'timeout') {
    return new ServerRequestError('timeout', null, `no answer from ${url} in time`, {
      cause: error,
    });
  }
  if (error instanceof HttpTransportError && error.code === 'too-large') {
    return new ServerRequestError('too-large', null, `the server's ${error.message}`, {
      cause: error,
    });
  }
  const code = (error as { code?: unknown } | null)?.code;
  const detail = typeof code === 'string' ? code : error instanceof Error ? error.message : '';
  return new ServerRequestError('unreachable', null, `cannot reach ${url} (${detail})`, {
    cause: error,
  });
}

/** Signed requests to the device API over one device credential. */
export class ServerClient {
  readonly #credential: DeviceCredential;
  readonly #base: string;
  readonly #key: KeyObject;
  readonly #transport: Transport;
  readonly #now: () => Date;
  readonly #timeoutMs: number;
  #clockOffsetMs: number;

  constructor(options: ServerClientOptions) {
    this.#credential = options.credential;
    this.#base = normalizeServerUrl(options.credential.serverUrl);
    this.#key = createPrivateKey(options.credential.privateKeyPem);
    this.#transport = options.transport ?? nodeTransport;
    this.#now = options.now ?? (() => new Date());
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#clockOffsetMs = options.clockOffsetMs ?? 0;
  }

  /** Server time minus local time, learnt from a `stale` refusal; added to every `created`. */
  get clockOffsetMs(): number {
    return this.#clockOffsetMs;
  }

  /** Fetches the group policy; with the ETag of the policy in force, 304 is `not-modified`. */
  async fetchPolicy(etag: string | null): Promise<PolicyFetch> {
    let answer: Answer;
    try {
      answer = await this.#request('GET', '/api/v1/policy', '', MAX_POLICY_RESPONSE_BYTES, {
        ...(etag === null ? {} : { 'if-none-match': etag }),
      });
    } catch (error) {
      return { kind: 'failed', error };
    }
    // The device's group, for AUP rules by device group: the server names it on 200 and 304.
    const deviceGroup = decodeDeviceGroup(answer.headers.get(DEVICE_GROUP_HEADER));
    if (answer.status === 200) {
      return { kind: 'policy', text: answer.text, etag: answer.headers.get('etag'), deviceGroup };
    }
    if (answer.status === 304) {
      return { kind: 'not-modified', deviceGroup };
    }
    if (answer.status === 404 && apiError(answer)?.error === 'no-policy') {
      return { kind: 'no-policy' };
    }
    return { kind: 'failed', error: this.#refusal(answer, 'policy') };
  }

  /**
   * The AUP documents `user` has signed on any device of the trust (issue 15), so a user who
   * signed the current version elsewhere is not asked again. An answer about another user than
   * the one asked is refused, never used.
   */
  async fetchAupSignatures(user: string): Promise<AupSignaturesFetch> {
    let answer: Answer;
    try {
      answer = await this.#request(
        'GET',
        `/api/v1/aup/signatures?user=${encodeURIComponent(user)}`,
        '',
      );
    } catch (error) {
      return { kind: 'failed', error };
    }
    if (answer.status !== 200) {
      return { kind: 'failed', error: this.#refusal(answer, 'AUP signature lookup') };
    }
    const checked = validate(AupSignaturesResponseSchema, answer.json);
    if (!checked.ok || checked.value.user.toLowerCase() !== user.toLowerCase()) {
      return {
        kind: 'failed',
        error: new ServerRequestError(
          'bad-response',
          200,
          checked.ok
            ? 'the server answered an AUP lookup about another user'
            : `the server answered an AUP lookup with an unexpected body: ${describeProblems(checked.problems)}`,
        ),
      };
    }
    return { kind: 'signatures', answer: checked.value };
  }

  /** Sends one batch from the outbox and says what the server made of it. */
  async sendBatch(batch: ReportBatch): Promise<SendOutcome> {
    let answer: Answer;
    try {
      answer = await this.#request('POST', '/api/v1/reports', JSON.stringify(batch));
    } catch (error) {
      return { kind: 'failed', error };
    }
    if (answer.status === 200) {
      const checked = validate(IngestResponseSchema, answer.json);
      // The digest the server holds, when it takes deltas; anything but 64 hex digits is none.
      const digest = answer.headers.get(REPORT_DIGEST_HEADER);
      return checked.ok
        ? {
            kind: 'accepted',
            ids: checked.value.accepted,
            reportDigest: digest !== null && /^[0-9a-f]{64}$/.test(digest) ? digest : null,
          }
        : {
            kind: 'failed',
            error: new ServerRequestError(
              'bad-response',
              200,
              'the server answered a batch with an unexpected body',
            ),
          };
    }
    if (answer.status === 429 || answer.status === 503) {
      // An HTTP-date Retry-After is on the server's clock: compare it with our corrected time.
      const serverNow = this.#now().getTime() + this.#clockOffsetMs;
      const ms = parseRetryAfter(answer.headers.get('retry-after'), serverNow);
      // Without a usable Retry-After (a proxy in front of a server that is down) nothing says
      // when: the growing, jittered back-off of an outage applies.
      return ms === undefined
        ? { kind: 'failed', error: this.#refusal(answer, 'batch') }
        : { kind: 'retry-after', ms };
    }
    const refusal = this.#refusal(answer, 'batch');
    if ((answer.status === 400 || answer.status === 413) && CONTENT_REFUSALS.has(refusal.code)) {
      const rejected = rejectableItems(batch, refusal.message);
      if (rejected !== null) {
        return { kind: 'rejected', ...rejected };
      }
    }
    return { kind: 'failed', error: refusal };
  }

  /**
   * One signed request, re-signed once when the server says our clock is off: `stale` carries
   * the server's time, and the offset learnt from it corrects `created` from then on.
   */
  async #request(
    method: 'GET' | 'POST',
    path: string,
    body: string,
    maxBytes = MAX_RESPONSE_BYTES,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    const url = `${this.#base}${path}`;
    for (let attempt = 0; ; attempt++) {
      const signed = signRequest({
        method,
        url,
        body,
        keyId: this.#credential.deviceId,
        privateKey: this.#key,
        now: new Date(this.#now().getTime() + this.#clockOffsetMs),
      });
      let answer: Answer;
      try {
        answer = toAnswer(
          await this.#transport({
            method,
            url,
            headers: {
              accept: 'application/json',
              ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
              ...headers,
              ...signed,
            },
            ...(method === 'POST' ? { body } : {}),
            // A redirect is never followed (it would take the signed request elsewhere).
            timeoutMs: this.#timeoutMs,
            maxBytes,
          }),
        );
      } catch (error) {
        throw transportError(error, url);
      }
      const refusal = answer.status === 401 ? apiError(answer) : null;
      const serverMs = Date.parse(refusal?.serverTime ?? '');
      if (attempt === 0 && refusal?.error === 'stale' && !Number.isNaN(serverMs)) {
        this.#clockOffsetMs = serverMs - this.#now().getTime();
        continue;
      }
      return answer;
    }
  }

  #refusal(answer: Answer, what: string): ServerRequestError {
    const body = apiError(answer);
    if (answer.status === 401 && body?.error === 'unknown-key') {
      return new ServerRequestError(
        'not-enrolled',
        401,
        `the server does not know device ${this.#credential.deviceId}: it was never enrolled ` +
          'there or ICT revoked it. Enrol the device again.',
      );
    }
    if (answer.status === 401 && body?.error === 'device-retired') {
      // Replaced or retired by ICT: said plainly, so `hallpass status` shows why nothing is accepted.
      return new ServerRequestError(
        'device-retired',
        401,
        `the server no longer accepts device ${this.#credential.deviceId}: ${body.message}`,
      );
    }
    const code = body?.error ?? (answer.status >= 500 ? 'server-error' : `http-${answer.status}`);
    const message = body?.message ?? answer.text.slice(0, 200);
    return new ServerRequestError(
      code,
      answer.status,
      `the server refused the ${what} (HTTP ${answer.status} ${code}): ${message}`,
    );
  }
}

/**
 * Which items of a refused batch may be set aside for good (never for a batch of deltas). One item: that one. Several: only
 * those our own copy of the shared schema also refuses; otherwise none (the batch is retried),
 * because setting aside valid reports would lose them.
 */
function rejectableItems(
  batch: ReportBatch,
  message: string,
): { ids: string[]; reason: string } | null {
  // A refused delta says nothing about the report: the outbox holds it in full, and it goes so.
  if ((batch.deltas ?? []).length > 0) {
    return null;
  }
  const items = [
    ...batch.reports.map((item) => ({
      id: item.id,
      checked: validate(ComplianceReportSchema, item),
    })),
    ...batch.events.map((item) => ({ id: item.id, checked: validate(AgentEventSchema, item) })),
  ];
  if (items.length === 1 && items[0] !== undefined) {
    return { ids: [items[0].id], reason: message };
  }
  const invalid = items.flatMap((item) =>
    item.checked.ok ? [] : [{ id: item.id, problems: describeProblems(item.checked.problems, 3) }],
  );
  if (invalid.length === 0) {
    return null;
  }
  return {
    ids: invalid.map((item) => item.id),
    reason: `${message} (${invalid.map((item) => `${item.id}: ${item.problems}`).join('; ')})`,
  };
}
