// The audit log on both engines, through the real ICT API: each admin write leaves exactly one
// row with who, what and the state before and after; a refused write leaves none; the database
// itself refuses to change or remove a row. Enrolment tokens made through the API work for
// exactly their number of uses, and a revoked one is refused.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import type { AuditList } from '../../../../../../shared/index.ts';
import { describeEachEngine } from '../../../../../helpers/databases.ts';
import { TestDevice } from '../../../../../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../../../../../helpers/test-server.ts';
import { newBrowser, type Browser } from './ict-session.ts';

const exampleYaml = await readFile(
  new URL('../../../../../../agent/core/policy/example-policy.yaml', import.meta.url),
  'utf8',
);

interface Row {
  id: string;
  actor: string;
  action: string;
  target_type: string;
  target_id: string;
  before: unknown;
  after: unknown;
}

describeEachEngine('audit log', (engine) => {
  let server: TestServer;
  let admin: Browser;
  let viewer: Browser;
  let seen: number;

  const rows = () =>
    server.db.query<Row>(
      'select id::text as id, actor, action, target_type, target_id, before, after from audit_log order by audit_log.id',
    );
  /** The rows written since the last call. */
  const newRows = async () => {
    const all = await rows();
    const fresh = all.slice(seen);
    seen = all.length;
    return fresh;
  };
  const tokenBody = (maxUses = 2) => ({
    schoolId: server.schoolId,
    groupId: server.groupId,
    label: 'Year 7 laptops',
    expiresInDays: 7,
    maxUses,
  });

  beforeAll(async () => {
    server = await startTestServer(engine);
    admin = await newBrowser(server.app, server.db, 'ada', 'admin');
    viewer = await newBrowser(server.app, server.db, 'vic', 'viewer');
  });
  afterAll(() => server.close());
  beforeEach(async () => {
    seen = (await rows()).length;
  });

  it('a token made through the API enrols exactly its number of uses, then is refused', async () => {
    const created = await admin.request({
      method: 'POST',
      url: '/api/v1/ict/tokens',
      payload: tokenBody(2),
    });
    expect(created.statusCode).toBe(201);
    const { id, token } = created.json<{ id: string; token: string }>();
    expect((await new TestDevice().enrol(server.app, token)).status).toBe(201);
    expect((await new TestDevice().enrol(server.app, token)).status).toBe(201);
    const third = await new TestDevice().enrol(server.app, token);
    expect(third.status).toBe(403);
    expect(third.json()).toMatchObject({ error: 'token-used-up' });

    const [row] = await newRows();
    expect(row).toMatchObject({
      actor: 'ada',
      action: 'token.create',
      target_type: 'enrolment-token',
      target_id: id,
      before: null,
      after: { id, label: 'Year 7 laptops', maxUses: 2, uses: 0, revokedAt: null },
    });
    // The secret is shown once, to the admin: never in the log.
    expect(JSON.stringify(row)).not.toContain(token);
    expect(JSON.stringify(row)).not.toContain(token.slice(4));
  });

  it('revoking leaves one row with before and after; the token is refused; again adds none', async () => {
    const { id, token } = await server.newToken({ maxUses: 5 });
    const revoke = () => admin.request({ method: 'POST', url: `/api/v1/ict/tokens/${id}/revoke` });
    expect((await revoke()).statusCode).toBe(204);
    const fresh = await newRows();
    expect(fresh).toHaveLength(1);
    expect(fresh[0]).toMatchObject({
      action: 'token.revoke',
      target_id: id,
      before: { id, revokedAt: null },
      after: { id, revokedAt: expect.stringMatching(/Z$/) as unknown },
    });
    const refused = await new TestDevice().enrol(server.app, token);
    expect(refused.status).toBe(403);
    expect(refused.json()).toMatchObject({ error: 'token-revoked' });
    expect((await revoke()).statusCode).toBe(204);
    expect(await newRows()).toEqual([]);
  });

  it("a viewer's writes are 403 and leave no row; a viewer may list tokens but not read the log", async () => {
    const { id } = await server.newToken();
    const attempts = [
      viewer.request({ method: 'POST', url: '/api/v1/ict/tokens', payload: tokenBody() }),
      viewer.request({ method: 'POST', url: `/api/v1/ict/tokens/${id}/revoke` }),
      viewer.request({ method: 'POST', url: '/api/v1/ict/schools', payload: { name: 'Nope' } }),
      viewer.request({
        method: 'POST',
        url: '/api/v1/ict/users',
        payload: { username: 'eve', password: 'correct horse battery staple', role: 'admin' },
      }),
      viewer.request({
        method: 'PUT',
        url: `/api/v1/ict/groups/${server.groupId}/policy`,
        headers: { 'content-type': 'application/yaml' },
        payload: exampleYaml,
      }),
    ];
    for (const response of await Promise.all(attempts)) {
      expect(response.statusCode).toBe(403);
      expect(response.json()).toMatchObject({ error: 'forbidden' });
    }
    // Without the CSRF header an admin's write is refused the same way, and leaves nothing.
    const noCsrf = await admin.request({
      method: 'POST',
      url: '/api/v1/ict/tokens',
      payload: tokenBody(),
      csrf: false,
    });
    expect(noCsrf.statusCode).toBe(403);
    expect(await newRows()).toEqual([]);
    expect(
      await server.db.query('select 1 from enrolment_tokens where id = $1 and revoked_at is null', [
        id,
      ]),
    ).toHaveLength(1);

    const list = await viewer.request({ method: 'GET', url: '/api/v1/ict/tokens' });
    expect(list.statusCode).toBe(200);
    expect(list.json<{ id: string }[]>().map((t) => t.id)).toContain(id);
    expect((await viewer.request({ method: 'GET', url: '/api/v1/ict/audit' })).statusCode).toBe(
      403,
    );
  });

  it('each other admin write leaves exactly one row with before and after', async () => {
    const school = await admin.request({
      method: 'POST',
      url: '/api/v1/ict/schools',
      payload: { name: 'Southfield Academy' },
    });
    expect(school.statusCode).toBe(201);
    const schoolId = school.json<{ id: string }>().id;
    expect(await newRows()).toMatchObject([
      { action: 'school.create', target_id: schoolId, before: null, after: { id: schoolId } },
    ]);

    const group = await admin.request({
      method: 'POST',
      url: '/api/v1/ict/groups',
      payload: { name: 'Staff laptops' },
    });
    expect(await newRows()).toMatchObject([
      { action: 'group.create', target_id: group.json<{ id: string }>().id, before: null },
    ]);

    const user = await admin.request({
      method: 'POST',
      url: '/api/v1/ict/users',
      payload: { username: 'newbie', password: 'correct horse battery staple', role: 'viewer' },
    });
    expect(user.statusCode).toBe(201);
    const userRows = await newRows();
    expect(userRows).toMatchObject([
      {
        action: 'user.create',
        before: null,
        after: { id: user.json<{ id: string }>().id, username: 'newbie', role: 'viewer' },
      },
    ]);
    expect(JSON.stringify(userRows)).not.toMatch(/correct horse|scrypt/);
    // A refused creation (the name is taken) leaves no row.
    const again = await admin.request({
      method: 'POST',
      url: '/api/v1/ict/users',
      payload: { username: 'newbie', password: 'correct horse battery staple', role: 'admin' },
    });
    expect(again.statusCode).toBe(409);
    expect(await newRows()).toEqual([]);

    const upload = await admin.request({
      method: 'PUT',
      url: `/api/v1/ict/groups/${server.groupId}/policy`,
      headers: { 'content-type': 'application/yaml' },
      payload: exampleYaml,
    });
    expect(upload.statusCode, upload.body).toBe(200);
    const { version } = upload.json<{ version: number }>();
    expect(await newRows()).toMatchObject([
      {
        action: 'policy.upload',
        target_type: 'device-group',
        target_id: server.groupId,
        before: { version: version - 1 },
        after: { version, policy: { version } },
      },
    ]);

    const approved = await admin.request({
      method: 'POST',
      url: '/api/v1/ict/usb/approvals',
      payload: {
        vendorId: '0781',
        productId: '5581',
        serial: 'AA11',
        description: 'SanDisk Ultra',
        scope: 'trust',
        reason: 'Exam board stick',
        expiresAt: null,
      },
    });
    expect(approved.statusCode, approved.body).toBe(201);
    const approvalId = approved.json<{ id: string }>().id;
    expect(await newRows()).toMatchObject([
      {
        action: 'usb.approve',
        target_id: approvalId,
        before: null,
        after: { id: approvalId, approvedBy: 'ada', revokedAt: null },
      },
    ]);
    const revoked = await admin.request({
      method: 'POST',
      url: `/api/v1/ict/usb/approvals/${approvalId}/revoke`,
    });
    expect(revoked.statusCode).toBe(200);
    expect(await newRows()).toMatchObject([
      {
        action: 'usb.revoke',
        target_id: approvalId,
        before: { revokedAt: null },
        after: { revokedBy: 'ada' },
      },
    ]);
  });

  it("a device's re-enrolment allowed and withdrawn: one row each; withdrawing again adds none", async () => {
    const device = new TestDevice();
    expect((await device.enrol(server.app, server.token)).status).toBe(201);
    const url = `/api/v1/ict/devices/${device.id}/re-enrolment`;
    const allowed = await admin.request({ method: 'POST', url, payload: { hours: 2 } });
    expect(allowed.statusCode, allowed.body).toBe(200);
    const { allowedUntil } = allowed.json<{ allowedUntil: string }>();
    expect(await newRows()).toMatchObject([
      {
        action: 're-enrolment.allow',
        target_type: 'device',
        target_id: device.id,
        before: { allowedUntil: null },
        after: { allowedUntil },
      },
    ]);
    expect((await admin.request({ method: 'DELETE', url })).statusCode).toBe(200);
    expect(await newRows()).toMatchObject([
      {
        action: 're-enrolment.withdraw',
        before: { allowedUntil },
        after: { allowedUntil: null },
      },
    ]);
    expect((await admin.request({ method: 'DELETE', url })).statusCode).toBe(200);
    expect(await newRows()).toEqual([]);
  });

  it('GET /audit lists newest first, filtered by action, account and day', async () => {
    await server.newToken();
    const created = await admin.request({
      method: 'POST',
      url: '/api/v1/ict/tokens',
      payload: tokenBody(),
    });
    const { id } = created.json<{ id: string }>();
    await admin.request({ method: 'POST', url: `/api/v1/ict/tokens/${id}/revoke` });
    const get = async (query: string) => {
      const response = await admin.request({ method: 'GET', url: `/api/v1/ict/audit${query}` });
      expect(response.statusCode, response.body).toBe(200);
      return response.json<AuditList>();
    };
    const all = await get('');
    expect(all.items[0]).toMatchObject({ action: 'token.revoke', targetId: id, actor: 'ada' });
    expect(all.items[1]).toMatchObject({ action: 'token.create', targetId: id });
    expect(all.total).toBe((await rows()).length);
    expect(all.actors).toEqual(['ada']);

    const creates = await get('?action=token.create');
    expect(creates.items.every((item) => item.action === 'token.create')).toBe(true);
    expect((await get('?actor=vic')).items).toEqual([]);
    const today = new Date().toISOString().slice(0, 10);
    expect((await get(`?from=${today}&to=${today}`)).total).toBe(all.total);
    expect((await get('?to=2000-01-01')).items).toEqual([]);

    for (const query of ['?from=2026-02-30', '?from=2026-03-02&to=2026-03-01', '?action=nope']) {
      const response = await admin.request({ method: 'GET', url: `/api/v1/ict/audit${query}` });
      expect(response.statusCode, query).toBe(400);
    }
  });

  it('the database refuses UPDATE, DELETE and TRUNCATE of audit rows', async () => {
    await server.newToken();
    await admin.request({ method: 'POST', url: '/api/v1/ict/tokens', payload: tokenBody() });
    const before = await rows();
    expect(before.length).toBeGreaterThan(0);
    await expect(server.db.query("update audit_log set actor = 'mallory'")).rejects.toThrow(
      /append-only/,
    );
    await expect(server.db.query('delete from audit_log')).rejects.toThrow(/append-only/);
    await expect(server.db.query('truncate audit_log')).rejects.toThrow(/append-only/);
    expect(await rows()).toEqual(before);
  });
});
