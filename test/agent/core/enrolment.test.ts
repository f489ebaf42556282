// Enrolment against the real server on a real port (PGlite), with a real file store.
import { createPublicKey } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrolDevice, EnrolmentError } from '../../../agent/core/enrolment.ts';
import { nodeTransport, type Transport } from '../../../agent/core/http-transport.ts';
import { LinuxSecretStore } from '../../../agent/core/secrets/linux.ts';
import {
  CredentialError,
  type DeviceCredential,
  type SecretStore,
} from '../../../agent/core/secrets/secret-store.ts';
import { normalizeServerUrl } from '../../../agent/core/server-client.ts';
import { findDeviceKey } from '../../../server/store/devices.ts';
import { testEngines } from '../../helpers/databases.ts';
import { sampleFacts } from '../../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';

const engine = testEngines.find((e) => e.name === 'pglite');
if (engine === undefined) {
  throw new Error('PGlite engine missing');
}

/** A store that must not be written (enrolment refused before it got there). */
const untouchable: SecretStore = {
  location: 'nowhere',
  read: () => Promise.resolve(null),
  write: () => Promise.reject(new Error('the store must not be written')),
};

describe('enrolDevice', () => {
  let server: TestServer;
  let baseUrl: string;
  let dir: string;

  beforeAll(async () => {
    server = await startTestServer(engine);
    baseUrl = await server.app.listen({ host: '127.0.0.1', port: 0 });
    dir = await mkdtemp(join(tmpdir(), 'hallpass-enrol-'));
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('enrols, stores the credential and registers only the public half of its key', async () => {
    const store = new LinuxSecretStore({ stateDir: join(dir, 'one') });
    const now = new Date('2026-11-23T09:00:00.000Z');
    const enrolment = await enrolDevice({
      serverUrl: `${baseUrl}/`,
      token: server.token,
      facts: sampleFacts(),
      store,
      now: () => now,
    });
    expect(enrolment).toEqual({ deviceId: expect.any(String) as string, cloneSuspect: false });
    const stored = (await store.read()) as DeviceCredential;
    expect(stored).toMatchObject({
      schemaVersion: 1,
      serverUrl: baseUrl,
      deviceId: enrolment.deviceId,
      enrolledAt: now.toISOString(),
    });
    const spki = createPublicKey(stored.privateKeyPem)
      .export({ format: 'der', type: 'spki' })
      .toString('base64url');
    expect(await findDeviceKey(server.db, enrolment.deviceId)).toBe(spki);
  });

  it('a second device with the same machine id is enrolled and flagged as a clone', async () => {
    const facts = sampleFacts();
    const first = await enrolDevice({
      serverUrl: baseUrl,
      token: server.token,
      facts,
      store: new LinuxSecretStore({ stateDir: join(dir, 'clone-a') }),
    });
    const second = await enrolDevice({
      serverUrl: baseUrl,
      token: server.token,
      facts: { ...sampleFacts(), machineIdHash: facts.machineIdHash },
      store: new LinuxSecretStore({ stateDir: join(dir, 'clone-b') }),
    });
    expect(second.deviceId).not.toBe(first.deviceId);
    expect(second.cloneSuspect).toBe(true);
  });

  it('re-enrolment signed by the current key replaces the device, and sends no token', async () => {
    const facts = sampleFacts();
    const store = new LinuxSecretStore({ stateDir: join(dir, 'again') });
    const first = await enrolDevice({ serverUrl: baseUrl, token: server.token, facts, store });
    const credential = (await store.read()) as DeviceCredential;
    const sent: string[] = [];
    const second = await enrolDevice({
      serverUrl: baseUrl,
      facts,
      store,
      replaces: { credential },
      transport: (request) => {
        sent.push(request.body ?? '');
        return nodeTransport(request);
      },
    });
    expect((await store.read())?.deviceId).toBe(second.deviceId);
    expect(await findDeviceKey(server.db, first.deviceId)).toBeNull();
    expect(JSON.parse(sent[0] ?? '{}')).not.toHaveProperty('token');
  });

  it('a signed re-enrolment from a device whose clock is two hours off signs again on server time', async () => {
    const store = new LinuxSecretStore({ stateDir: join(dir, 'skewed') });
    await enrolDevice({ serverUrl: baseUrl, token: server.token, facts: sampleFacts(), store });
    const credential = (await store.read()) as DeviceCredential;
    let requests = 0;
    const second = await enrolDevice({
      serverUrl: baseUrl,
      facts: sampleFacts(),
      store,
      replaces: { credential },
      now: () => new Date(Date.now() - 2 * 3_600_000),
      transport: (request) => {
        requests++;
        return nodeTransport(request);
      },
    });
    expect(requests).toBe(2);
    expect(await findDeviceKey(server.db, credential.deviceId)).toBeNull();
    expect(await findDeviceKey(server.db, second.deviceId)).not.toBeNull();
  });

  it('re-enrolment with a token and the device id only is refused, the credential kept', async () => {
    const facts = sampleFacts();
    const victim = new LinuxSecretStore({ stateDir: join(dir, 'victim') });
    const first = await enrolDevice({
      serverUrl: baseUrl,
      token: server.token,
      facts,
      store: victim,
    });
    // The pupil's copy: its own store, the same (public) facts, a valid token, the device id.
    const attempt = enrolDevice({
      serverUrl: baseUrl,
      token: server.token,
      facts,
      store: untouchable,
      replaces: { deviceId: first.deviceId },
    });
    await expect(attempt).rejects.toMatchObject({
      name: 'EnrolmentError',
      code: 'replacement-not-allowed',
      status: 403,
    });
    expect(await findDeviceKey(server.db, first.deviceId)).not.toBeNull();
  });

  it.each([
    ['an expired token', { expiresAt: new Date(Date.now() - 60_000) }, 'token-expired', /expired/],
    ['a used-up token', { maxUses: 1, useFirst: true }, 'token-used-up', /used as many times/],
  ])('%s is refused with the server message', async (_name, options, code, message) => {
    const { token } = await server.newToken(options);
    if ('useFirst' in options) {
      await enrolDevice({
        serverUrl: baseUrl,
        token,
        facts: sampleFacts(),
        store: new LinuxSecretStore({ stateDir: join(dir, 'first-use') }),
      });
    }
    const attempt = enrolDevice({
      serverUrl: baseUrl,
      token,
      facts: sampleFacts(),
      store: untouchable,
    });
    await expect(attempt).rejects.toBeInstanceOf(EnrolmentError);
    await expect(
      enrolDevice({ serverUrl: baseUrl, token, facts: sampleFacts(), store: untouchable }),
    ).rejects.toMatchObject({
      code,
      status: 403,
      message: expect.stringMatching(message) as string,
    });
  });

  it('an unknown token is refused with the server message', async () => {
    await expect(
      enrolDevice({
        serverUrl: baseUrl,
        token: 'hpe_not-a-token-ICT-ever-issued',
        facts: sampleFacts(),
        store: untouchable,
      }),
    ).rejects.toMatchObject({ code: 'unknown-token', message: /not valid\. Ask ICT/ });
  });

  it('a token too short to be one is refused before anything is sent', async () => {
    let sent = false;
    const transport: Transport = () => {
      sent = true;
      return Promise.reject(new Error('no'));
    };
    await expect(
      enrolDevice({
        serverUrl: baseUrl,
        token: 'abc',
        facts: sampleFacts(),
        store: untouchable,
        transport,
      }),
    ).rejects.toMatchObject({ code: 'invalid-request', message: /\/token/ });
    expect(sent).toBe(false);
  });

  it.each([
    'http://hallpass.example-trust.org.uk',
    'http://10.0.0.5:8080',
    'ftp://hallpass.example-trust.org.uk',
    'hallpass.example-trust.org.uk',
    'https://user:secret@hallpass.example-trust.org.uk',
  ])('refuses the server URL %s before anything is sent', async (serverUrl) => {
    let sent = false;
    const transport: Transport = () => {
      sent = true;
      return Promise.reject(new Error('no'));
    };
    await expect(
      enrolDevice({
        serverUrl,
        token: server.token,
        facts: sampleFacts(),
        store: untouchable,
        transport,
      }),
    ).rejects.toMatchObject({ code: 'bad-server-url' });
    expect(sent).toBe(false);
  });

  it.each([
    ['https://hallpass.example-trust.org.uk/', 'https://hallpass.example-trust.org.uk'],
    ['https://Example-Trust.org.uk/hallpass//', 'https://example-trust.org.uk/hallpass'],
    ['http://localhost:8080', 'http://localhost:8080'],
    ['http://127.0.0.1:8080/', 'http://127.0.0.1:8080'],
    ['http://[::1]:8080', 'http://[::1]:8080'],
  ])('accepts and normalises %s', (input, expected) => {
    expect(normalizeServerUrl(input)).toBe(expected);
  });

  it('a server that is down is an EnrolmentError saying it cannot be reached', async () => {
    const stub = createServer();
    await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
    const { port } = stub.address() as AddressInfo;
    await new Promise((resolve) => stub.close(resolve));
    await expect(
      enrolDevice({
        serverUrl: `http://127.0.0.1:${port}`,
        token: server.token,
        facts: sampleFacts(),
        store: untouchable,
      }),
    ).rejects.toMatchObject({ code: 'unreachable', message: /cannot reach/ });
  });

  it('a 201 that is not a valid enrolment answer stores nothing', async () => {
    // A real HTTP server that answers 201 with a body that is not an enrolment answer.
    const impostor = createServer((_request, response) => {
      response.writeHead(201, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ deviceId: 'not-a-uuid', serverTime: 'now' }));
    });
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    const { port } = impostor.address() as AddressInfo;
    try {
      await expect(
        enrolDevice({
          serverUrl: `http://127.0.0.1:${String(port)}`,
          token: server.token,
          facts: sampleFacts(),
          store: untouchable,
        }),
      ).rejects.toMatchObject({ code: 'bad-response' });
    } finally {
      await new Promise((resolve) => impostor.close(resolve));
    }
  });

  it('a store that cannot be written says which device id the server issued', async () => {
    const failing: SecretStore = {
      location: '/var/lib/hallpass/device-credential.json',
      read: () => Promise.resolve(null),
      write: () => Promise.reject(new CredentialError('read-only file system')),
    };
    const attempt = enrolDevice({
      serverUrl: baseUrl,
      token: server.token,
      facts: sampleFacts(),
      store: failing,
    });
    await expect(attempt).rejects.toMatchObject({
      code: 'store-failed',
      message: expect.stringMatching(
        /enrolled this device as [0-9a-f-]{36}, but .*read-only file system/,
      ) as string,
    });
  });
});
