// GET /api/v1/aup/signatures: a signed device request asking which documents a user signed
// anywhere in the trust, so they are not asked again on a second device.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AupSignaturesResponseSchema, validate } from '../../../../../shared/index.ts';
import { describeEachEngine } from '../../../../helpers/databases.ts';
import { send, TestDevice } from '../../../../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../../../../helpers/test-server.ts';
import {
  aupAccepted,
  aupDeclined,
  documentFor,
  textSha256,
  type AupDoc,
} from '../../../../helpers/aup-sample.ts';

const lookup = (user: string) => `/api/v1/aup/signatures?user=${encodeURIComponent(user)}`;

describeEachEngine('GET /api/v1/aup/signatures', (engine) => {
  let server: TestServer;
  let staffAup: AupDoc;
  let contract: AupDoc;
  const laptop = new TestDevice();
  const desktop = new TestDevice();
  const hour = (h: number) => new Date(Date.UTC(2026, 10, 2, h));

  beforeAll(async () => {
    server = await startTestServer(engine);
    expect((await laptop.enrol(server.app, server.token)).status).toBe(201);
    expect((await desktop.enrol(server.app, server.token)).status).toBe(201);
    staffAup = await documentFor(server.db, server.groupId, 'staff');
    contract = { ...staffAup, id: 'laptop-contract', kind: 'device-contract', version: '1' };
    const sent = await laptop.postBatch(
      server.app,
      [],
      [
        aupAccepted(staffAup, { user: 'SCHOOL\\TBrown', at: hour(8) }),
        // Signed again later (a second login before the first was delivered): the newest counts.
        aupAccepted(staffAup, { user: 'school\\tbrown', at: hour(9) }),
        aupAccepted(contract, { user: 'school\\tbrown', at: hour(10) }),
        aupDeclined(staffAup, { user: 'school\\declined.only', at: hour(8) }),
      ],
    );
    expect(sent.status).toBe(200);
  });
  afterAll(() => server.close());

  it('answers signatures made on another device, whatever the case of the name', async () => {
    const answer = await desktop.signed(server.app, 'GET', lookup('School\\TBROWN'));
    expect(answer.status).toBe(200);
    const body = answer.json();
    expect(validate(AupSignaturesResponseSchema, body).ok).toBe(true);
    expect(body).toEqual({
      user: 'School\\TBROWN',
      // The device contract was signed on the laptop, so the desktop still needs its own.
      signatures: [
        {
          documentId: staffAup.id,
          version: staffAup.version,
          textSha256: textSha256(staffAup),
          signedAt: hour(9).toISOString(),
        },
      ],
      serverTime: expect.any(String) as string,
    });
  });

  it('includes a device contract on the device it was signed on, newest first', async () => {
    const answer = await laptop.signed(server.app, 'GET', lookup('school\\tbrown'));
    expect((answer.json() as { signatures: unknown[] }).signatures).toEqual([
      expect.objectContaining({ documentId: 'laptop-contract', signedAt: hour(10).toISOString() }),
      expect.objectContaining({ documentId: staffAup.id, signedAt: hour(9).toISOString() }),
    ]);
  });

  it('answers no signatures for a user who only declined, or who never signed', async () => {
    for (const user of ['school\\declined.only', 'nobody', '<b>\u202Eevil</b>']) {
      const answer = await laptop.signed(server.app, 'GET', lookup(user));
      expect(answer.status).toBe(200);
      expect(answer.json()).toMatchObject({ user, signatures: [] });
    }
  });

  it('refuses an unsigned or replayed request', async () => {
    expect((await send(server.app, 'GET', lookup('school\\tbrown'), undefined)).status).toBe(401);
    const headers = laptop.sign('GET', lookup('school\\tbrown'), '');
    expect(
      (await send(server.app, 'GET', lookup('school\\tbrown'), undefined, headers)).status,
    ).toBe(200);
    const replay = await send(server.app, 'GET', lookup('school\\tbrown'), undefined, headers);
    expect(replay.status).toBe(401);
    expect(replay.json()).toMatchObject({ error: 'replayed' });
  });

  it('refuses bad input with a clear error, never a crash', async () => {
    const cases: [string, string][] = [
      ['/api/v1/aup/signatures', 'user'],
      [lookup(''), 'user'],
      [lookup('x'.repeat(257)), 'user'],
      [`${lookup('a')}&user=b`, 'user'],
      [`${lookup('a')}&extra=1`, 'extra'],
      [lookup('jo\u0000smith'), 'NUL'],
    ];
    for (const [url, mentions] of cases) {
      const answer = await laptop.signed(server.app, 'GET', url);
      expect(answer.status, url).toBe(400);
      const body = answer.json() as { error: string; message: string };
      expect(body.message, url).toContain(mentions);
    }
  });
});
