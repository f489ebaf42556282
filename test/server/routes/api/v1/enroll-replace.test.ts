// Replacing an enrolled device (issue 12): only with proof of possession of its current key
// (the request signed by it) or an ICT approval; never with a token plus public facts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION, type DeviceDetail } from '../../../../../shared/index.ts';
import { testEngines } from '../../../../helpers/databases.ts';
import { send, TestDevice, type Answer } from '../../../../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../../../../helpers/test-server.ts';
import { newBrowser, type Browser } from './ict/ict-session.ts';

/** An enrolment request body for `device`, replacing `replaces`. */
function replacementBody(device: TestDevice, replaces: string, token?: string): string {
  return JSON.stringify({
    schemaVersion: SCHEMA_VERSION,
    ...(token === undefined ? {} : { token }),
    publicKey: device.publicKey,
    facts: device.facts,
    replaces,
  });
}

/** `next` replaces `old` with a request signed by `signer` (the old device, or an impostor). */
async function signedReplacement(
  server: TestServer,
  next: TestDevice,
  old: TestDevice,
  signer: TestDevice = old,
): Promise<Answer> {
  const body = replacementBody(next, old.id);
  const answer = await send(
    server.app,
    'POST',
    '/api/v1/enroll',
    body,
    signer.sign('POST', '/api/v1/enroll', body, { keyId: old.id }),
  );
  if (answer.status === 201) {
    next.id = (answer.json() as { deviceId: string }).deviceId;
  }
  return answer;
}

describe.each(testEngines)('replacing an enrolled device on $name', (engine) => {
  let server: TestServer;
  let admin: Browser;
  beforeAll(async () => {
    server = await startTestServer(engine);
    admin = await newBrowser(server.app, server.db, 'ada', 'admin');
  });
  afterAll(() => server.close());

  const enrolled = async (): Promise<TestDevice> => {
    const device = new TestDevice();
    expect((await device.enrol(server.app, server.token)).status).toBe(201);
    return device;
  };
  const tokenUses = async (): Promise<number> =>
    (
      await server.db.query<{ uses: number }>('select sum(uses)::int as uses from enrolment_tokens')
    )[0]?.uses ?? 0;
  const detail = async (id: string): Promise<DeviceDetail> =>
    (await admin.request({ method: 'GET', url: `/api/v1/ict/devices/${id}` })).json();

  it('refuses a token plus the device id and its (public) machine id: the device keeps working', async () => {
    const victim = await enrolled();
    const uses = await tokenUses();
    // The pupil's copy: the same facts (machine id hash included), a fresh key, a valid token.
    const impostor = new TestDevice(victim.facts);
    const answer = await impostor.enrol(server.app, server.token, { replaces: victim.id });
    expect(answer.status).toBe(403);
    expect(answer.json()).toMatchObject({ error: 'replacement-not-allowed' });
    expect(await tokenUses()).toBe(uses);
    expect((await victim.signed(server.app, 'GET', '/api/v1/policy')).status).toBe(200);
    const retired = await server.db.query(
      'select 1 from devices where id = $1 and retired_at is not null',
      [victim.id],
    );
    expect(retired).toEqual([]);
  });

  it('refuses a replacement signed by another key, or naming another device as keyid', async () => {
    const victim = await enrolled();
    const pupil = await enrolled();
    const forged = await signedReplacement(server, new TestDevice(victim.facts), victim, pupil);
    expect(forged.status).toBe(401);
    expect(forged.json()).toMatchObject({ error: 'bad-signature' });
    // Signed correctly by the pupil's own enrolled device, claiming to replace the victim.
    const body = replacementBody(new TestDevice(victim.facts), victim.id);
    const ownKey = await send(
      server.app,
      'POST',
      '/api/v1/enroll',
      body,
      pupil.sign('POST', '/api/v1/enroll', body),
    );
    expect(ownKey.status).toBe(401);
    expect(ownKey.json()).toMatchObject({ error: 'unknown-key' });
    expect((await victim.signed(server.app, 'GET', '/api/v1/policy')).status).toBe(200);
  });

  it('replaces a device whose current key signs the request, with no token; ICT sees it', async () => {
    const old = await enrolled();
    expect((await old.signed(server.app, 'GET', '/api/v1/policy')).status).toBe(200);
    const uses = await tokenUses();
    const next = new TestDevice(old.facts);
    const answer = await signedReplacement(server, next, old);
    expect(answer.status).toBe(201);
    expect(answer.json()).toMatchObject({ cloneSuspect: false });
    expect(await tokenUses()).toBe(uses);
    expect((await next.signed(server.app, 'GET', '/api/v1/policy')).status).toBe(200);

    // The retired device is told why, not just "unknown key".
    const refused = await old.signed(server.app, 'GET', '/api/v1/policy');
    expect(refused.status).toBe(401);
    expect(refused.json()).toMatchObject({ error: 'device-retired' });
    expect((refused.json() as { message: string }).message).toContain(next.id);

    const oldDetail = await detail(old.id);
    expect(oldDetail.identity).toMatchObject({ replacedBy: next.id, replaces: null });
    expect(oldDetail.identity.retiredAt).not.toBeNull();
    expect(oldDetail.events.find((e) => e.type === 'device.replaced')?.data).toMatchObject({
      replacedBy: next.id,
      proof: 'device-key',
    });
    const nextDetail = await detail(next.id);
    expect(nextDetail.identity).toMatchObject({ replaces: old.id, retiredAt: null });
    expect(nextDetail.events.map((e) => e.type)).toContain('device.replacement');
  });

  it('refuses a replayed signed replacement', async () => {
    const old = await enrolled();
    const next = new TestDevice(old.facts);
    const body = replacementBody(next, old.id);
    const headers = old.sign('POST', '/api/v1/enroll', body, { keyId: old.id });
    expect((await send(server.app, 'POST', '/api/v1/enroll', body, headers)).status).toBe(201);
    const again = await send(server.app, 'POST', '/api/v1/enroll', body, headers);
    expect(again.status).toBe(401);
  });

  it('replaces a device ICT allowed to re-enrol (a reimage: key lost), once, with a token', async () => {
    const old = await enrolled();
    const allow = await admin.request({
      method: 'POST',
      url: `/api/v1/ict/devices/${old.id}/re-enrolment`,
      payload: { hours: 4 },
    });
    expect(allow.statusCode).toBe(200);
    expect((await detail(old.id)).identity.reenrolmentAllowedUntil).not.toBeNull();
    // Reimaged: a new machine id, a new key; only the device id and a token are known.
    const reimaged = new TestDevice();
    const answer = await reimaged.enrol(server.app, server.token, { replaces: old.id });
    expect(answer.status).toBe(201);
    expect((await old.signed(server.app, 'GET', '/api/v1/policy')).json()).toMatchObject({
      error: 'device-retired',
    });
    const events = (await detail(old.id)).events;
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining(['device.re-enrolment-allowed', 'device.replaced']),
    );
    expect(events.find((e) => e.type === 'device.replaced')?.data).toMatchObject({
      proof: 'ict-approval',
      approvedBy: 'ada',
      sameMachineId: false,
    });
    // The approval was used up: the replacement itself cannot be replaced the same way.
    const another = await new TestDevice().enrol(server.app, server.token, {
      replaces: reimaged.id,
    });
    expect(another.json()).toMatchObject({ error: 'replacement-not-allowed' });
  });

  it('refuses an approval that expired or was withdrawn, and a viewer cannot approve', async () => {
    const old = await enrolled();
    const url = `/api/v1/ict/devices/${old.id}/re-enrolment`;
    const viewer = await newBrowser(server.app, server.db, `vic-${engine.name}`, 'viewer');
    expect((await viewer.request({ method: 'POST', url, payload: { hours: 1 } })).statusCode).toBe(
      403,
    );
    expect((await admin.request({ method: 'POST', url, payload: { hours: 1 } })).statusCode).toBe(
      200,
    );
    await server.db.query(
      "update devices set reenrolment_allowed_until = now() - interval '1 minute' where id = $1",
      [old.id],
    );
    const expired = await new TestDevice().enrol(server.app, server.token, { replaces: old.id });
    expect(expired.json()).toMatchObject({ error: 'replacement-not-allowed' });

    expect((await admin.request({ method: 'POST', url, payload: { hours: 1 } })).statusCode).toBe(
      200,
    );
    expect((await admin.request({ method: 'DELETE', url })).statusCode).toBe(200);
    const withdrawn = await new TestDevice().enrol(server.app, server.token, { replaces: old.id });
    expect(withdrawn.json()).toMatchObject({ error: 'replacement-not-allowed' });
    expect((await detail(old.id)).events.map((e) => e.type)).toContain(
      'device.re-enrolment-withdrawn',
    );
  });

  it('a new device without a token is refused; a replacement of an unknown device is 409', async () => {
    const device = new TestDevice();
    const noToken = await send(
      server.app,
      'POST',
      '/api/v1/enroll',
      JSON.stringify({
        schemaVersion: SCHEMA_VERSION,
        publicKey: device.publicKey,
        facts: device.facts,
      }),
    );
    expect(noToken.status).toBe(400);
    expect(noToken.json()).toMatchObject({ error: 'token-required' });
    const unknown = await device.enrol(server.app, server.token, {
      replaces: '00000000-0000-4000-8000-000000000000',
    });
    expect(unknown.status).toBe(409);
    expect(unknown.json()).toMatchObject({ error: 'unknown-device' });
  });
});
