// The ServerClient against the real server on a real port (PGlite), and against small HTTP
// servers for the answers the real one does not give on demand (429, 5xx, silence, redirects).
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrolDevice } from '../../../agent/core/enrolment.ts';
import { generateDeviceKeyPair } from '../../../agent/core/http-signature/sign.ts';
import { nodeTransport, type Transport } from '../../../agent/core/http-transport.ts';
import { parsePolicyText } from '../../../agent/core/policy/policy-file.ts';
import type { DeviceCredential, SecretStore } from '../../../agent/core/secrets/secret-store.ts';
import { ServerClient, ServerRequestError } from '../../../agent/core/server-client.ts';
import { ensureDeviceGroup } from '../../../server/store/organisation.ts';
import { createEnrolmentToken } from '../../../server/store/tokens.ts';
import {
  SCHEMA_VERSION,
  type ComplianceReport,
  type ReportBatch,
  type ReportDelta,
} from '../../../shared/index.ts';
import { deltaFrom, reportDigest } from '../../../agent/core/report-delta.ts';
import { testEngines } from '../../helpers/databases.ts';
import { report, result, sampleFacts, usbBlocked } from '../../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';

const HOUR = 3_600_000;

function memoryStore(): SecretStore & { credential: DeviceCredential | null } {
  return {
    location: 'memory',
    credential: null,
    read() {
      return Promise.resolve(this.credential);
    },
    write(credential) {
      this.credential = credential;
      return Promise.resolve();
    },
  };
}

function batchOf(facts = sampleFacts()): ReportBatch {
  return {
    schemaVersion: SCHEMA_VERSION,
    reports: [report(facts, [result('firewall', 'pass'), result('antivirus', 'fail')])],
    events: [usbBlocked()],
  };
}

/** Wraps the real transport to count the requests a client makes. */
function countingTransport() {
  const counter: { calls: number; transport: Transport } = { calls: 0, transport: nodeTransport };
  counter.transport = (request) => {
    counter.calls++;
    return nodeTransport(request);
  };
  return counter;
}

/** A plain HTTP server on 127.0.0.1 answering with `handler`; closes with the suite. */
async function stubServer(handler: (request: IncomingMessage, response: ServerResponse) => void) {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

const engine = testEngines.find((e) => e.name === 'pglite');
if (engine === undefined) {
  throw new Error('PGlite engine missing');
}

describe('ServerClient against the real server', () => {
  let server: TestServer;
  let baseUrl: string;
  let credential: DeviceCredential;

  beforeAll(async () => {
    server = await startTestServer(engine);
    const address = await server.app.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = address;
    const store = memoryStore();
    const enrolment = await enrolDevice({
      serverUrl: baseUrl,
      token: server.token,
      facts: sampleFacts(),
      store,
    });
    expect(enrolment.cloneSuspect).toBe(false);
    if (store.credential === null) {
      throw new Error('enrolment stored nothing');
    }
    credential = store.credential;
  });
  afterAll(() => server.close());

  it('fetches the group policy with an ETag, then 304 with that ETag', async () => {
    const client = new ServerClient({ credential });
    const first = await client.fetchPolicy(null);
    if (first.kind !== 'policy') {
      throw new Error(`expected a policy, got ${first.kind}`);
    }
    expect(first.etag).not.toBeNull();
    expect(parsePolicyText(first.text, 'server').name).toBeTruthy();
    expect(first.deviceGroup).toBe('Pupil laptops');
    expect(await client.fetchPolicy(first.etag)).toEqual({
      kind: 'not-modified',
      deviceGroup: 'Pupil laptops',
    });
    expect((await client.fetchPolicy('"some-older-etag"')).kind).toBe('policy');
  });

  it('a device whose group has no policy yet hears no-policy', async () => {
    const group = await ensureDeviceGroup(server.db, 'Staff laptops without policy');
    const { token } = await createEnrolmentToken(server.db, {
      schoolId: server.schoolId,
      groupId: group.id,
      label: 'no policy',
      expiresAt: new Date(Date.now() + HOUR),
      maxUses: 1,
      createdBy: null,
    });
    const store = memoryStore();
    await enrolDevice({ serverUrl: baseUrl, token, facts: sampleFacts(), store });
    const client = new ServerClient({ credential: store.credential as DeviceCredential });
    expect(await client.fetchPolicy(null)).toEqual({ kind: 'no-policy' });
  });

  it('sends a batch and hears which ids the server holds; a resend is accepted again', async () => {
    const client = new ServerClient({ credential });
    const batch = batchOf();
    const ids = [batch.reports[0]?.id, batch.events[0]?.id];
    const outcome = await client.sendBatch(batch);
    expect(outcome.kind).toBe('accepted');
    expect(outcome.kind === 'accepted' && [...outcome.ids].sort()).toEqual([...ids].sort());
    expect(await client.sendBatch(batch)).toMatchObject({ kind: 'accepted' });
  });

  it.each([
    ['2 hours slow', -2 * HOUR],
    ['2 hours fast', 2 * HOUR],
  ])('a device clock %s gets through after one corrected retry', async (_name, error) => {
    const counter = countingTransport();
    const client = new ServerClient({
      credential,
      transport: counter.transport,
      now: () => new Date(Date.now() + error),
    });
    expect(await client.sendBatch(batchOf())).toMatchObject({ kind: 'accepted' });
    expect(counter.calls).toBe(2);
    // The offset is the server's time minus the device's: within a minute of the error.
    expect(Math.abs(client.clockOffsetMs + error)).toBeLessThan(60_000);
    expect((await client.fetchPolicy(null)).kind).toBe('policy');
    expect(counter.calls).toBe(3);
  });

  it('a remembered clock offset is used from the first request', async () => {
    const counter = countingTransport();
    const client = new ServerClient({
      credential,
      transport: counter.transport,
      now: () => new Date(Date.now() - 2 * HOUR),
      clockOffsetMs: 2 * HOUR,
    });
    expect(await client.sendBatch(batchOf())).toMatchObject({ kind: 'accepted' });
    expect(counter.calls).toBe(1);
  });

  it('a device the server does not know fails with a clear not-enrolled error', async () => {
    const stranger: DeviceCredential = {
      ...credential,
      deviceId: randomUUID(),
      privateKeyPem: generateDeviceKeyPair().privateKeyPem,
    };
    const client = new ServerClient({ credential: stranger });
    const outcome = await client.sendBatch(batchOf());
    expect(outcome.kind).toBe('failed');
    const error = outcome.kind === 'failed' ? outcome.error : null;
    expect(error).toBeInstanceOf(ServerRequestError);
    expect(error).toMatchObject({ code: 'not-enrolled', status: 401 });
    expect(String(error)).toMatch(/never enrolled there or ICT revoked it/);
    expect(await client.fetchPolicy(null)).toMatchObject({
      kind: 'failed',
      error: { code: 'not-enrolled' },
    });
  });

  it('a device replaced on the server is told so, naming its replacement, not "unknown key"', async () => {
    const store = memoryStore();
    await enrolDevice({ serverUrl: baseUrl, token: server.token, facts: sampleFacts(), store });
    const old = store.credential as DeviceCredential;
    const replacement = await enrolDevice({
      serverUrl: baseUrl,
      facts: sampleFacts(),
      store,
      replaces: { credential: old },
    });
    const outcome = await new ServerClient({ credential: old }).sendBatch(batchOf());
    const error = outcome.kind === 'failed' ? outcome.error : null;
    expect(error).toMatchObject({ code: 'device-retired', status: 401 });
    expect(String(error)).toContain(`was replaced on`);
    expect(String(error)).toContain(replacement.deviceId);
  });

  it('a one-item batch the server refuses as invalid is rejected, naming the item', async () => {
    const client = new ServerClient({ credential });
    const bad = batchOf();
    const broken = { ...usbBlocked(), type: 'usb.exploded' } as unknown as ReportBatch['events'][0];
    const outcome = await client.sendBatch({ ...bad, reports: [], events: [broken] });
    expect(outcome).toMatchObject({ kind: 'rejected', ids: [broken.id] });
  });

  it('in a larger refused batch only the items our schema also refuses are rejected', async () => {
    const client = new ServerClient({ credential });
    const batch = batchOf();
    const broken = { ...usbBlocked(), type: 'usb.exploded' } as unknown as ReportBatch['events'][0];
    const outcome = await client.sendBatch({ ...batch, events: [...batch.events, broken] });
    expect(outcome).toMatchObject({ kind: 'rejected', ids: [broken.id] });
    expect(outcome.kind === 'rejected' && outcome.reason).toMatch(/invalid|must/i);
    // The valid rest goes through on the next send.
    expect(await client.sendBatch(batch)).toMatchObject({ kind: 'accepted' });
  });

  it('hears the digest of the last report the server holds, and a refused delta sets nothing aside', async () => {
    const client = new ServerClient({ credential });
    const batch = batchOf();
    const first = batch.reports[0] as ComplianceReport;
    const full = await client.sendBatch(batch);
    expect(full).toMatchObject({ kind: 'accepted', reportDigest: reportDigest(first) });
    // A delta from a base the server does not hold, with an event: the base is refused (409)...
    const next = report(first.device, first.results);
    const other = report(first.device, [result('firewall', 'fail')]);
    const wrongBase = deltaFrom(other, reportDigest(other), next) as ReportDelta;
    const event = usbBlocked();
    const mismatch = await client.sendBatch({
      schemaVersion: SCHEMA_VERSION,
      reports: [],
      deltas: [wrongBase],
      events: [event],
    });
    expect(mismatch.kind).toBe('failed');
    expect(mismatch.kind === 'failed' && (mismatch.error as ServerRequestError).code).toBe(
      'report-base-mismatch',
    );
    // ...and a malformed one (400) is failed, never a rejection: the outbox holds the full report.
    const malformed = await client.sendBatch({
      schemaVersion: SCHEMA_VERSION,
      reports: [],
      deltas: [{ ...wrongBase, base: 'abc' }],
      events: [event],
    });
    expect(malformed.kind).toBe('failed');
    expect(malformed.kind === 'failed' && (malformed.error as ServerRequestError).status).toBe(400);
    // The right base is applied.
    const good = deltaFrom(first, reportDigest(first), next) as ReportDelta;
    expect(
      await client.sendBatch({
        schemaVersion: SCHEMA_VERSION,
        reports: [],
        deltas: [good],
        events: [event],
      }),
    ).toMatchObject({
      kind: 'accepted',
      ids: [next.id, event.id],
      reportDigest: reportDigest(next),
    });
  });

  it('a server that is down (closed port) is a failed send and a failed fetch', async () => {
    const stub = await stubServer(() => undefined);
    await stub.close();
    const client = new ServerClient({ credential: { ...credential, serverUrl: stub.url } });
    expect(await client.sendBatch(batchOf())).toMatchObject({
      kind: 'failed',
      error: { code: 'unreachable' },
    });
    expect(await client.fetchPolicy(null)).toMatchObject({
      kind: 'failed',
      error: { code: 'unreachable' },
    });
  });
});

describe('ServerClient against answers the real server gives only under load or failure', () => {
  const credential: DeviceCredential = {
    schemaVersion: 1,
    serverUrl: 'http://127.0.0.1:1',
    deviceId: randomUUID(),
    privateKeyPem: generateDeviceKeyPair().privateKeyPem,
    enrolledAt: new Date().toISOString(),
  };
  const seen: IncomingMessage[] = [];
  let answer: (response: ServerResponse) => void = (response) => response.end();
  let stub: Awaited<ReturnType<typeof stubServer>>;
  let client: ServerClient;

  beforeAll(async () => {
    stub = await stubServer((request, response) => {
      seen.push(request);
      request.resume();
      request.on('end', () => {
        answer(response);
      });
    });
    client = new ServerClient({
      credential: { ...credential, serverUrl: stub.url },
      timeoutMs: 500,
    });
  });
  afterAll(() => stub.close());

  const reply = (status: number, headers: Record<string, string>, body: unknown) => {
    answer = (response) => {
      response.writeHead(status, { 'content-type': 'application/json', ...headers });
      response.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
  };

  it('signs every request with the device key', async () => {
    reply(200, {}, { accepted: [], serverTime: new Date().toISOString() });
    await client.sendBatch(batchOf());
    const request = seen.at(-1);
    expect(request?.headers['signature-input']).toContain(`keyid="${credential.deviceId}"`);
    expect(request?.headers['content-digest']).toMatch(/^sha-256=:/);
    expect(request?.headers.signature).toMatch(/^sig1=:/);
  });

  it('429 with Retry-After in seconds is retry-after in milliseconds', async () => {
    reply(429, { 'retry-after': '17' }, { error: 'busy', message: 'The server is busy.' });
    expect(await client.sendBatch(batchOf())).toEqual({ kind: 'retry-after', ms: 17_000 });
  });

  it('503 with an HTTP-date Retry-After counts from the device clock', async () => {
    const now = new Date('2026-11-23T09:00:00Z');
    const dated = new ServerClient({
      credential: { ...credential, serverUrl: stub.url },
      now: () => now,
    });
    reply(503, { 'retry-after': 'Mon, 23 Nov 2026 09:02:00 GMT' }, 'down for maintenance');
    expect(await dated.sendBatch(batchOf())).toEqual({ kind: 'retry-after', ms: 120_000 });
  });

  it('429 without a usable Retry-After is a failed send, backed off like an outage', async () => {
    reply(429, { 'retry-after': 'soon' }, { error: 'busy', message: 'busy' });
    expect(await client.sendBatch(batchOf())).toMatchObject({ kind: 'failed' });
    reply(503, {}, 'no healthy upstream');
    expect(await client.sendBatch(batchOf())).toMatchObject({ kind: 'failed' });
  });

  it.each([500, 502, 504])('HTTP %i is a failed send, to be retried', async (status) => {
    reply(status, {}, { error: 'internal', message: 'Something went wrong on the server.' });
    expect(await client.sendBatch(batchOf())).toMatchObject({
      kind: 'failed',
      error: { code: 'internal', status },
    });
  });

  it('a multi-item batch refused for a reason our schema cannot see is failed, not lost', async () => {
    reply(400, {}, { error: 'invalid-data', message: 'A value in the request cannot be stored.' });
    expect(await client.sendBatch(batchOf())).toMatchObject({
      kind: 'failed',
      error: { code: 'invalid-data' },
    });
  });

  it('a 400 about the signature never rejects the items', async () => {
    reply(400, {}, { error: 'digest-mismatch', message: 'Content-Digest does not match' });
    const one = { ...batchOf(), reports: [] };
    expect(await client.sendBatch(one)).toMatchObject({ kind: 'failed' });
  });

  it('a 200 with an unexpected body is failed', async () => {
    reply(200, {}, { accepted: 'everything' });
    expect(await client.sendBatch(batchOf())).toMatchObject({
      kind: 'failed',
      error: { code: 'bad-response' },
    });
  });

  it('a server that never answers is failed on the timeout', async () => {
    answer = () => undefined;
    expect(await client.sendBatch(batchOf())).toMatchObject({
      kind: 'failed',
      error: { code: 'timeout' },
    });
  });

  it('an answer larger than the bound is failed without reading it all', async () => {
    answer = (response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('x'.repeat(1024 * 1024));
    };
    expect(await client.sendBatch(batchOf())).toMatchObject({
      kind: 'failed',
      error: { code: 'too-large' },
    });
  });

  it('a redirect is not followed', async () => {
    reply(307, { location: 'http://127.0.0.1:1/elsewhere' }, '');
    expect(await client.fetchPolicy(null)).toMatchObject({ kind: 'failed' });
  });

  it('a 404 that is not no-policy (wrong URL) is a failure, not "no policy"', async () => {
    reply(404, {}, { error: 'not-found', message: 'No such route.' });
    expect(await client.fetchPolicy(null)).toMatchObject({
      kind: 'failed',
      error: { code: 'not-found' },
    });
  });

  it('a stale refusal is retried once only', async () => {
    let calls = 0;
    answer = (response) => {
      calls++;
      response.writeHead(401, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          error: 'stale',
          message: 'stale',
          serverTime: new Date(Date.now() + HOUR).toISOString(),
        }),
      );
    };
    expect(await client.fetchPolicy(null)).toMatchObject({
      kind: 'failed',
      error: { code: 'stale' },
    });
    expect(calls).toBe(2);
  });
});
