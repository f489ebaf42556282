import { afterAll, beforeAll, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../../../../../shared/index.ts';
import { describeEachEngine } from '../../../../helpers/databases.ts';
import { sampleFacts, send, TestDevice } from '../../../../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../../../../helpers/test-server.ts';

describeEachEngine('POST /api/v1/enroll', (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(engine);
  });
  afterAll(() => server.close());

  it('exchanges a token, facts and a public key for a device id; stores the public key only', async () => {
    const device = new TestDevice();
    const answer = await device.enrol(server.app, server.token);
    expect(answer.status).toBe(201);
    expect(answer.json()).toMatchObject({ deviceId: device.id, cloneSuspect: false });
    const rows = await server.db.query<{ public_key_spki: string; hostname: string }>(
      'select public_key_spki, hostname from devices where id = $1',
      [device.id],
    );
    expect(rows).toEqual([{ public_key_spki: device.publicKey, hostname: device.facts.hostname }]);
  });

  it.each([
    ['an unknown token', () => Promise.resolve('hpe_' + 'x'.repeat(43)), 'unknown-token'],
    [
      'an expired token',
      async () => (await server.newToken({ expiresAt: new Date(Date.now() - 1000) })).token,
      'token-expired',
    ],
  ])('refuses %s with 403 and stores nothing', async (_name, makeToken, code) => {
    const before = await server.db.query('select id from devices');
    const answer = await new TestDevice().enrol(server.app, await makeToken());
    expect(answer.status).toBe(403);
    expect(answer.json()).toMatchObject({ error: code });
    expect(await server.db.query('select id from devices')).toHaveLength(before.length);
  });

  it('a token with one use enrols one device; the second is refused', async () => {
    const { token } = await server.newToken({ maxUses: 1 });
    expect((await new TestDevice().enrol(server.app, token)).status).toBe(201);
    const second = await new TestDevice().enrol(server.app, token);
    expect(second.status).toBe(403);
    expect(second.json()).toMatchObject({ error: 'token-used-up' });
  });

  it('a revoked token is refused', async () => {
    const { id, token } = await server.newToken();
    await server.db.query('update enrolment_tokens set revoked_at = now() where id = $1', [id]);
    expect((await new TestDevice().enrol(server.app, token)).json()).toMatchObject({
      error: 'token-revoked',
    });
  });

  it('refuses a key that is not P-256, and a key already enrolled', async () => {
    const device = new TestDevice();
    const badKey = await send(
      server.app,
      'POST',
      '/api/v1/enroll',
      JSON.stringify({
        schemaVersion: SCHEMA_VERSION,
        token: server.token,
        publicKey: 'A'.repeat(120),
        facts: device.facts,
      }),
    );
    expect(badKey.status).toBe(400);
    expect(badKey.json()).toMatchObject({ error: 'bad-public-key' });
    expect((await device.enrol(server.app, server.token)).status).toBe(201);
    const again = await device.enrol(server.app, server.token);
    expect(again.status).toBe(409);
    expect(again.json()).toMatchObject({ error: 'key-in-use' });
  });

  it('two devices with one machine id are both flagged as a cloned image, never merged', async () => {
    const facts = sampleFacts();
    const first = new TestDevice(facts);
    const second = new TestDevice({ ...facts, hostname: 'other-name' });
    await first.enrol(server.app, server.token);
    const answer = await second.enrol(server.app, server.token);
    expect(answer.json()).toMatchObject({ cloneSuspect: true });
    expect(second.id).not.toBe(first.id);
    const flags = await server.db.query<{ clone_suspect: boolean }>(
      'select clone_suspect from devices where id = any($1::uuid[])',
      [[first.id, second.id]],
    );
    expect(flags.map((f) => f.clone_suspect)).toEqual([true, true]);
  });

  it.each([
    ['malformed JSON', '{"token": '],
    ['a missing field', JSON.stringify({ schemaVersion: SCHEMA_VERSION, token: 'x'.repeat(20) })],
    [
      'an extra field',
      JSON.stringify({
        schemaVersion: SCHEMA_VERSION,
        token: 'x'.repeat(20),
        publicKey: 'A'.repeat(120),
        facts: sampleFacts(),
        admin: true,
      }),
    ],
    [
      'SQL in a string',
      JSON.stringify({
        schemaVersion: SCHEMA_VERSION,
        token: "'; drop table devices; --",
        publicKey: 'A'.repeat(120),
        facts: sampleFacts({ hostname: "x'); delete from devices; --" }),
      }),
    ],
  ])('answers %s with a 4xx and stores nothing', async (_name, body) => {
    const before = await server.db.query('select id from devices');
    const answer = await send(server.app, 'POST', '/api/v1/enroll', body);
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expect(await server.db.query('select id from devices')).toHaveLength(before.length);
  });
});
