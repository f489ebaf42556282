// Every error, whoever raises it, in the application's one format: ApiError JSON on API URLs, an
// HTML page on dashboard URLs; never Fastify's own body, never the URL echoed back.
import { connect } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachEngine } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// A marker in every URL and body sent, to prove no answer echoes what it was given.
const MARK = 'ECHOxMARK';

describeEachEngine('error answers', (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(engine, { bodyLimitBytes: 4096 });
  });
  afterAll(() => server.close());

  const expectApiError = (
    response: { statusCode: number; headers: Record<string, unknown>; body: string },
    status: number,
    code: string,
  ) => {
    expect(response.statusCode).toBe(status);
    expect(String(response.headers['content-type'])).toMatch(/^application\/json/);
    const body = JSON.parse(response.body) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['error', 'message']);
    expect(body.error).toBe(code);
    expect(response.body).not.toContain(MARK);
    expect(response.body).not.toMatch(/FST_|statusCode/);
  };

  const expectPage = (
    response: { statusCode: number; headers: Record<string, unknown>; body: string },
    status: number,
  ) => {
    expect(response.statusCode).toBe(status);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.body).toMatch(/^<!doctype html>/);
    expect(response.body).toContain('<a href="/">Go to the dashboard</a>');
    expect(response.body).not.toContain(MARK);
    expect(response.body).not.toMatch(/FST_|statusCode/);
    expect(String(response.headers['content-security-policy'])).toContain("default-src 'self'");
    expect(response.headers['x-frame-options']).toBe('DENY');
  };

  it.each([
    ['a URL that cannot be decoded', `/api/v1/ict/devices/%E0%A4%${MARK}`, 400, 'bad-url'],
    [
      'an over-long URL parameter',
      `/api/v1/ict/devices/${MARK}${'a'.repeat(200)}`,
      414,
      'url-too-long',
    ],
    ['an unknown API route', `/api/v1/${MARK}`, 404, 'not-found'],
    ['an unknown device-API route', `/api/${MARK}?q=${MARK}`, 404, 'not-found'],
  ])('%s on an API URL: ApiError JSON', async (_name, url, status, code) => {
    expectApiError(await server.app.inject({ method: 'GET', url }), status, code);
  });

  it.each([
    ['a URL that cannot be decoded', `/devices/%E0%A4%${MARK}`, 400],
    ['an over-long URL parameter', `/dashboard/${MARK}${'a'.repeat(200)}`, 414],
    ['an unknown page', `/${MARK}<script>alert(1)</script>`, 404],
    ['a device page with a malformed id', `/devices/${MARK}`, 404],
    ['a missing dashboard file', `/dashboard/${MARK}.js`, 404],
  ])('%s on a dashboard URL: an HTML page', async (_name, url, status) => {
    expectPage(await server.app.inject({ method: 'GET', url }), status);
  });

  it.each([
    ['bad JSON', 'application/json', `{"username":"${MARK}"`, 400, 'invalid-json'],
    [
      'a body over the limit',
      'application/json',
      JSON.stringify({ x: MARK.repeat(1000) }),
      413,
      'too-large',
    ],
    ['a non-JSON content type', 'text/plain', MARK, 415, 'unsupported-media-type'],
    [
      'a form body',
      'application/x-www-form-urlencoded',
      `username=${MARK}`,
      415,
      'unsupported-media-type',
    ],
  ])('%s: ApiError JSON', async (_name, contentType, payload, status, code) => {
    const response = await server.app.inject({
      method: 'POST',
      url: '/api/v1/ict/session',
      headers: { 'content-type': contentType },
      payload,
    });
    expectApiError(response, status, code);
  });

  /** Sends raw bytes to the server on a real socket and returns everything it answered. */
  async function rawRequest(request: string): Promise<string> {
    if (!server.app.server.listening) {
      await server.app.listen({ host: '127.0.0.1', port: 0 });
    }
    const address = server.app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    return new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(request);
      });
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      socket.on('close', () => {
        resolve(text);
      });
      socket.on('error', reject);
    });
  }

  it('a request Node cannot parse as HTTP: ApiError JSON, over a real socket', async () => {
    const answer = await rawRequest(
      `GET /api/${MARK} HTTP/1.1\r\nHost: x\r\nBad Header ${MARK}\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1.1 400 Bad Request\r\n/);
    const body = answer.slice(answer.indexOf('\r\n\r\n') + 4);
    expect(JSON.parse(body)).toEqual({
      error: 'bad-request',
      message: 'The request is not valid HTTP.',
    });
    expect(answer).not.toContain(MARK);
  });

  it('a page address too long for Node: an HTML page (414), over a real socket', async () => {
    const answer = await rawRequest(
      `GET /devices?search=${MARK}${'x'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1.1 414 URI Too Long\r\n/);
    expect(answer).toContain('Content-Type: text/html; charset=utf-8');
    expect(answer).toContain('<h1>Address too long</h1>');
    expect(answer).not.toContain(MARK);
  });

  it('a page request with malformed headers: an HTML page, over a real socket', async () => {
    const answer = await rawRequest(
      `GET /${MARK} HTTP/1.1\r\nHost: x\r\nBad Header ${MARK}\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1.1 400 Bad Request\r\n/);
    expect(answer).toContain('<a href="/">Go to the dashboard</a>');
    expect(answer).not.toContain(MARK);
  });
});
