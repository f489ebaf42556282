// The agent's HTTP client: node:http and node:https, not the global fetch. Loading fetch (undici,
// its WebAssembly parser and the WHATWG streams) kept the idle executable at 83 MB RSS; with
// node:http it measured 65 MB (bench/RESULTS.md, service). The rules the callers
// relied on fetch for are kept here: a redirect is never followed (a signed request or an
// enrolment token must not travel elsewhere), the whole exchange has a deadline, and an answer
// larger than the caller's bound is refused without reading the rest.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** One request, sent as given. */
export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Readonly<Record<string, string>>;
  body?: string;
  /** Deadline for the whole exchange, answer included. */
  timeoutMs: number;
  /** Largest answer body read; a larger one fails with `HttpTransportError('too-large')`. */
  maxBytes: number;
}

/** Header lookup by case-insensitive name (repeated headers joined with ", "). */
export interface AnswerHeaders {
  get(name: string): string | null;
}

/** The status, headers and complete body of an answer (any status: 3xx is not followed). */
export interface RawAnswer {
  status: number;
  headers: AnswerHeaders;
  body: Buffer;
}

/** Sends a request and reads the whole answer; injectable for tests. */
export type Transport = (request: HttpRequest) => Promise<RawAnswer>;

/** Why a request got no answer: `timeout`, `too-large`, or a socket error's code. */
export class HttpTransportError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HttpTransportError';
    this.code = code;
  }
}

function headersOf(message: IncomingMessage): AnswerHeaders {
  return {
    get(name) {
      const value = message.headers[name.toLowerCase()];
      return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
    },
  };
}

/** node:http / node:https, by the URL's scheme. */
export const nodeTransport: Transport = (request) =>
  new Promise<RawAnswer>((resolve, reject) => {
    const url = new URL(request.url);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      reject(new HttpTransportError('bad-url', `cannot send a request to ${url.protocol} URLs`));
      return;
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const body = request.body === undefined ? undefined : Buffer.from(request.body, 'utf8');
    let settled = false;
    const fail = (error: HttpTransportError) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        outgoing.destroy();
        reject(error);
      }
    };
    const outgoing = send(
      url,
      {
        method: request.method,
        headers: {
          ...request.headers,
          ...(body === undefined ? {} : { 'content-length': String(body.byteLength) }),
        },
      },
      (incoming) => {
        const chunks: Buffer[] = [];
        let size = 0;
        incoming.on('data', (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size > request.maxBytes) {
            incoming.destroy();
            fail(
              new HttpTransportError(
                'too-large',
                `the answer is larger than ${String(request.maxBytes)} bytes`,
              ),
            );
            return;
          }
          chunks.push(chunk);
        });
        incoming.on('error', (error) => {
          fail(new HttpTransportError(codeOf(error), error.message, { cause: error }));
        });
        incoming.on('end', () => {
          if (!settled) {
            settled = true;
            clearTimeout(timer);
            resolve({
              status: incoming.statusCode ?? 0,
              headers: headersOf(incoming),
              body: Buffer.concat(chunks),
            });
          }
        });
      },
    );
    const timer = setTimeout(() => {
      fail(new HttpTransportError('timeout', `no answer within ${String(request.timeoutMs)} ms`));
    }, request.timeoutMs);
    outgoing.on('error', (error) => {
      fail(new HttpTransportError(codeOf(error), error.message, { cause: error }));
    });
    outgoing.end(body);
  });

function codeOf(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === 'string' ? code : 'network-error';
}
