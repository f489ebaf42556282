// One format for every error the server answers, whoever raised it: a route, a schema, the body
// parser, Fastify's router (a malformed or over-long URL), the 404 handler or Node's HTTP parser.
// API callers get `{ error, message }` (ApiError); people on dashboard URLs get a small HTML page.
// Messages are ours, never the framework's, which echo the URL or a header back.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiError } from '../shared/index.ts';
import { DASHBOARD_HEADERS } from './routes/dashboard/headers.ts';

/** An error answer: status and body. */
export interface ErrorAnswer {
  status: number;
  body: ApiError;
}

// Fastify's own errors, by code: status, our code and our message.
const FRAMEWORK: Record<string, [number, string, string]> = {
  FST_ERR_BAD_URL: [400, 'bad-url', 'The address is not a valid URL.'],
  FST_ERR_MAX_PARAM_LENGTH: [414, 'url-too-long', 'A part of the address is too long.'],
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'too-large', 'The request body is too large.'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [
    415,
    'unsupported-media-type',
    'Send the body as application/json.',
  ],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [
    400,
    'bad-request',
    'The Content-Length does not match the body.',
  ],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'invalid-json', 'The body is empty but should be JSON.'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'invalid-json', 'The body is not valid JSON.'],
};

/** What to answer for an error thrown or passed anywhere while handling a request. */
export function errorAnswer(error: FastifyError): ErrorAnswer {
  const code = (error as { code?: unknown }).code;
  // PostgreSQL "data exception" (SQLSTATE class 22: a number out of range, a NUL character, a
  // date the database cannot hold) means the client sent a value the schema let through but
  // the database cannot store: the client's fault, so a 400, never a 5xx.
  if (typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code)) {
    return {
      status: 400,
      body: { error: 'invalid-data', message: 'A value in the request cannot be stored.' },
    };
  }
  const known = typeof code === 'string' ? FRAMEWORK[code] : undefined;
  if (known !== undefined) {
    return { status: known[0], body: { error: known[1], message: known[2] } };
  }
  const status = error.statusCode ?? 500;
  if (status >= 500 || status < 400) {
    return {
      status: 500,
      body: { error: 'internal', message: 'Something went wrong on the server.' },
    };
  }
  if (error.validation !== undefined) {
    // Says which field broke which rule ("body/name must match pattern …"), never the value.
    return {
      status,
      body: { error: 'invalid-request', message: error.message.slice(0, 1000) },
    };
  }
  if (typeof code === 'string' && /^[a-z-]+$/.test(code)) {
    // Raised by our own code, with our own message.
    return { status, body: { error: code, message: error.message.slice(0, 1000) } };
  }
  return {
    status,
    body: {
      error: status === 404 ? 'not-found' : 'bad-request',
      message: status === 404 ? 'No such page or route.' : 'The request is not valid.',
    },
  };
}

/** The answer for a URL no route serves. */
export const NOT_FOUND: ErrorAnswer = {
  status: 404,
  body: { error: 'not-found', message: 'No such page or route.' },
};

/** True for URLs a person opens in a browser (the dashboard), false for the APIs. */
export function isPageUrl(url: string): boolean {
  const path = url.split('?', 1)[0] ?? '';
  return !/^\/(api(\/|$)|healthz$|openapi\.json$)/.test(path);
}

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => `&#${String(c.charCodeAt(0))};`);

/** Page titles in plain words, for the statuses a person can meet on a dashboard URL. */
const PAGE_TITLES: Record<number, string> = {
  400: 'This address does not work',
  401: 'Please sign in',
  403: 'Not allowed',
  404: 'Page not found',
  408: 'The request took too long',
  413: 'Too much was sent',
  414: 'Address too long',
  431: 'Request too large',
};

/** What a person can do next, by status: every error page says it. */
const NEXT_STEPS: Record<number, string> = {
  400: 'Check the address, or start again from the dashboard.',
  404: 'Check the address, or find the page from the dashboard.',
  414: 'Start again from the dashboard and choose fewer or shorter filters.',
  431: 'Start again from the dashboard. If this keeps happening, clear this site’s cookies.',
};

/** The HTML page for an error on a dashboard URL. */
export function errorPage(answer: ErrorAnswer): string {
  const title =
    PAGE_TITLES[answer.status] ??
    (answer.status >= 500 ? 'Something went wrong' : (STATUS_CODES[answer.status] ?? 'Error'));
  const next = NEXT_STEPS[answer.status] ?? 'Try again, or go back to the dashboard.';
  return `<!doctype html>
<html lang="en-GB">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${escapeHtml(title)} · Hallpass</title>
    <link rel="icon" href="/dashboard/favicon.svg" type="image/svg+xml" />
    <link rel="stylesheet" href="/dashboard/style.css" />
  </head>
  <body>
    <main id="main">
      <h1>${escapeHtml(title)}</h1>
      <p>${escapeHtml(answer.body.message)}</p>
      <p>${escapeHtml(next)}</p>
      <p><a href="/">Go to the dashboard</a></p>
    </main>
  </body>
</html>
`;
}

/** Sends an error answer: an HTML page on a dashboard URL, ApiError JSON everywhere else. */
export function sendError(
  request: FastifyRequest,
  reply: FastifyReply,
  answer: ErrorAnswer,
): FastifyReply {
  void reply.status(answer.status);
  if (!isPageUrl(request.url)) {
    return reply.send(answer.body);
  }
  return reply
    .headers({ ...DASHBOARD_HEADERS, 'cache-control': 'no-store' })
    .type('text/html; charset=utf-8')
    .send(errorPage(answer));
}

/** The request line's method and path in the bytes Node's parser refused, when there is one. */
function requestLine(raw: unknown): { method: string; path: string; length: number } | null {
  if (!Buffer.isBuffer(raw)) {
    return null;
  }
  const text = raw.subarray(0, 64 * 1024).toString('latin1');
  const match = /^([A-Z]{3,7}) (\/\S*)/.exec(text);
  if (match === null) {
    return null;
  }
  const end = text.indexOf('\r\n');
  return { method: match[1] ?? '', path: match[2] ?? '', length: end < 0 ? text.length : end };
}

/**
 * A request line this long is what overflowed Node's 16 KiB header limit, not the headers: the
 * dashboard's own addresses stay far below it.
 */
const LONG_REQUEST_LINE = 8 * 1024;

/**
 * Errors of Node's HTTP parser, before Fastify has a request (a malformed request line, headers
 * too large, a client too slow): answered in the same format, then the connection closes. A
 * browser asking for a dashboard page gets an HTML page; an address so long that the request line
 * fills most of Node's header limit is a 414, as it is in Fastify's router.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) {
    return;
  }
  const line = requestLine((error as { rawPacket?: unknown }).rawPacket);
  const [status, body]: [number, ApiError] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, { error: 'timeout', message: 'The request took too long to arrive.' }]
      : error.code === 'HPE_HEADER_OVERFLOW' && line !== null && line.length >= LONG_REQUEST_LINE
        ? [414, { error: 'url-too-long', message: 'The address is too long for the server.' }]
        : error.code === 'HPE_HEADER_OVERFLOW'
          ? [431, { error: 'headers-too-large', message: 'The request headers are too large.' }]
          : [400, { error: 'bad-request', message: 'The request is not valid HTTP.' }];
  const asPage = line !== null && line.method === 'GET' && isPageUrl(line.path);
  const [contentType, text] = asPage
    ? ['text/html; charset=utf-8', errorPage({ status, body })]
    : ['application/json; charset=utf-8', JSON.stringify(body)];
  const extra = asPage
    ? Object.entries({ ...DASHBOARD_HEADERS, 'cache-control': 'no-store' })
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('')
    : '';
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${String(status)} ${STATUS_CODES[status] ?? ''}\r\nContent-Length: ${String(Buffer.byteLength(text))}\r\nContent-Type: ${contentType}\r\n${extra}Connection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy(error);
}
