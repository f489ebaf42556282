// The device's lookup of AUP signatures made on other devices (GET /api/v1/aup/signatures),
// against a small HTTP server answering in the shape shared/schemas/api.ts fixes: the real
// endpoint is built on another branch, and a test with the real server follows the merge.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { generateDeviceKeyPair } from '../../../agent/core/http-signature/sign.ts';
import { ServerClient } from '../../../agent/core/server-client.ts';

let answer: { status: number; body: unknown } = { status: 200, body: {} };
const seen: IncomingMessage[] = [];
const server = createServer((request, response) => {
  seen.push(request);
  response.writeHead(answer.status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(answer.body));
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
afterAll(
  () =>
    new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    ),
);

const client = new ServerClient({
  credential: {
    schemaVersion: 1,
    serverUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    deviceId: randomUUID(),
    privateKeyPem: generateDeviceKeyPair().privateKeyPem,
    enrolledAt: new Date().toISOString(),
  },
});

const signatures = (user: string) => ({
  user,
  signatures: [
    {
      documentId: 'pupil-aup',
      version: '2026.1',
      textSha256: 'a'.repeat(64),
      signedAt: '2026-09-04T08:40:00.000Z',
    },
  ],
  serverTime: '2026-10-05T08:00:00.000Z',
});

describe('AUP signature lookup', () => {
  it('asks with a signed request carrying the user in the query', async () => {
    answer = { status: 200, body: signatures('SCHOOL\\24jsmith') };
    const found = await client.fetchAupSignatures('SCHOOL\\24jsmith');
    expect(found).toEqual({ kind: 'signatures', answer: signatures('SCHOOL\\24jsmith') });
    const request = seen.at(-1);
    expect(request?.url).toBe('/api/v1/aup/signatures?user=SCHOOL%5C24jsmith');
    expect(request?.headers.signature).toMatch(/^sig1=:/);
    expect(request?.headers['signature-input']).toContain('"@query"');
  });

  it('accepts the user in another case, as the server compares names', async () => {
    answer = { status: 200, body: signatures('24JSMITH') };
    expect((await client.fetchAupSignatures('24jsmith')).kind).toBe('signatures');
  });

  it.each([
    ['an answer about another user', signatures('24other'), /another user/],
    ['a body of another shape', { user: '24jsmith', signatures: 'all' }, /unexpected body/],
  ])('refuses %s', async (_name, body, says) => {
    answer = { status: 200, body };
    const found = await client.fetchAupSignatures('24jsmith');
    expect(found.kind).toBe('failed');
    expect(found.kind === 'failed' ? String(found.error) : '').toMatch(says);
  });

  it('a server without the endpoint is a failure, not an empty answer', async () => {
    answer = { status: 404, body: { error: 'not-found', message: 'Route not found' } };
    expect((await client.fetchAupSignatures('24jsmith')).kind).toBe('failed');
  });
});
