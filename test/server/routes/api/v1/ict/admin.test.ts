import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { buildApp } from '../../../../../../server/app.ts';
import { HashGate } from '../../../../../../server/auth/hash-gate.ts';
import { defaultServerConfig } from '../../../../../../server/config.ts';
import { describeEachEngine } from '../../../../../helpers/databases.ts';
import { TestDevice } from '../../../../../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../../../../../helpers/test-server.ts';
import { newBrowser, PASSWORD, signIn, type Browser } from './ict-session.ts';

const examplePolicyUrl = new URL(
  '../../../../../../agent/core/policy/example-policy.yaml',
  import.meta.url,
);
const exampleYaml = await readFile(examplePolicyUrl, 'utf8');

describeEachEngine('ICT admin API', (engine) => {
  let server: TestServer;
  let admin: Browser;
  let viewer: Browser;
  const policyUrl = () => `/api/v1/ict/groups/${server.groupId}/policy`;
  const policyVersion = async () =>
    (
      await server.db.query<{ v: number }>(
        'select max(version)::int as v from policies where group_id = $1',
        [server.groupId],
      )
    )[0]?.v;

  beforeAll(async () => {
    server = await startTestServer(engine);
    admin = await newBrowser(server.app, server.db, 'ada', 'admin');
    viewer = await newBrowser(server.app, server.db, 'vic', 'viewer');
  });
  afterAll(() => server.close());

  describe('schools and groups', () => {
    it.each([
      ['/api/v1/ict/schools', 'schools'],
      ['/api/v1/ict/groups', 'device_groups'],
    ])('POST %s creates one; a second of the same name is 409', async (url, table) => {
      const name = `Robert'); drop table ${table}; -- "%_\\`;
      const created = await admin.request({ method: 'POST', url, payload: { name } });
      expect(created.statusCode).toBe(201);
      const row = created.json<{ id: string; name: string }>();
      expect(row.name).toBe(name);
      const listed = await viewer.request({ method: 'GET', url });
      expect(listed.json()).toContainEqual(row);
      const again = await admin.request({ method: 'POST', url, payload: { name } });
      expect(again.statusCode).toBe(409);
      expect(again.json()).toMatchObject({ error: 'exists' });
    });

    it.each([
      { name: '' },
      { name: ' padded' },
      { name: 'x'.repeat(201) },
      { name: 'nul\u0000name' },
      { name: 42 },
      { name: 'ok', extra: true },
      {},
    ])('POST /schools with %j is 400 and stores nothing', async (payload) => {
      const before = await server.db.query('select id from schools');
      const response = await admin.request({ method: 'POST', url: '/api/v1/ict/schools', payload });
      expect(response.statusCode).toBe(400);
      expect(await server.db.query('select id from schools')).toHaveLength(before.length);
    });
  });

  describe('enrolment tokens', () => {
    const create = (payload: Record<string, unknown>, browser = admin) =>
      browser.request({ method: 'POST', url: '/api/v1/ict/tokens', payload });
    const valid = () => ({
      schoolId: server.schoolId,
      groupId: server.groupId,
      label: "Year 7 'laptops'; --",
      expiresInDays: 7,
      maxUses: 2,
    });

    it('create → the secret once; list shows it without the secret; revoke → enrolment refused', async () => {
      const created = await create(valid());
      expect(created.statusCode).toBe(201);
      const { id, token } = created.json<{ id: string; token: string }>();
      expect(token).toMatch(/^hpe_[A-Za-z0-9_-]{43}$/);

      const device = new TestDevice();
      expect((await device.enrol(server.app, token)).status).toBe(201);

      const list = await admin.request({ method: 'GET', url: '/api/v1/ict/tokens' });
      expect(list.statusCode).toBe(200);
      expect(list.body).not.toContain(token);
      const listed = list.json<{ id: string }[]>().find((t) => t.id === id);
      expect(listed).toMatchObject({
        label: "Year 7 'laptops'; --",
        school: 'Northgate Primary',
        group: 'Pupil laptops',
        maxUses: 2,
        uses: 1,
        revokedAt: null,
      });

      const revoked = await admin.request({
        method: 'POST',
        url: `/api/v1/ict/tokens/${id}/revoke`,
      });
      expect(revoked.statusCode).toBe(204);
      const after = (await admin.request({ method: 'GET', url: '/api/v1/ict/tokens' }))
        .json<{ id: string; revokedAt: string | null }[]>()
        .find((t) => t.id === id);
      expect(after?.revokedAt).not.toBeNull();
      const refused = await new TestDevice().enrol(server.app, token);
      expect(refused.status).toBe(403);
      expect(refused.json()).toMatchObject({ error: 'token-revoked' });
    });

    it('a token for an unknown school or group is 400; a bad body is 400; nothing stored', async () => {
      const before = await server.db.query('select id from enrolment_tokens');
      const unknown = '00000000-0000-4000-8000-000000000000';
      const noSchool = await create({ ...valid(), schoolId: unknown });
      expect(noSchool.statusCode).toBe(400);
      expect(noSchool.json()).toMatchObject({ error: 'unknown-school' });
      const noGroup = await create({ ...valid(), groupId: unknown });
      expect(noGroup.json()).toMatchObject({ error: 'unknown-group' });
      for (const bad of [
        { ...valid(), expiresInDays: 0 },
        { ...valid(), maxUses: 100_001 },
        { ...valid(), schoolId: "1' or '1'='1" },
        { ...valid(), label: 'x'.repeat(201) },
        { ...valid(), label: '\u0000' },
        { ...valid(), extra: 1 },
      ]) {
        expect((await create(bad)).statusCode, JSON.stringify(bad)).toBe(400);
      }
      expect(await server.db.query('select id from enrolment_tokens')).toHaveLength(before.length);
    });

    it('revoking an unknown token is 404, a malformed id 400; a viewer cannot create or revoke', async () => {
      expect(
        (
          await admin.request({
            method: 'POST',
            url: '/api/v1/ict/tokens/00000000-0000-4000-8000-000000000000/revoke',
          })
        ).statusCode,
      ).toBe(404);
      expect(
        (await admin.request({ method: 'POST', url: '/api/v1/ict/tokens/x%27--/revoke' }))
          .statusCode,
      ).toBe(400);
      expect((await create(valid(), viewer)).statusCode).toBe(403);
    });

    it('without the CSRF token nothing is created or revoked', async () => {
      const before = await server.db.query('select id from enrolment_tokens');
      const response = await admin.request({
        method: 'POST',
        url: '/api/v1/ict/tokens',
        payload: valid(),
        csrf: false,
      });
      expect(response.statusCode).toBe(403);
      expect(await server.db.query('select id from enrolment_tokens')).toHaveLength(before.length);
      const { id } = await server.newToken();
      const revoke = await admin.request({
        method: 'POST',
        url: `/api/v1/ict/tokens/${id}/revoke`,
        csrf: false,
      });
      expect(revoke.statusCode).toBe(403);
      expect(
        await server.db.query(
          'select 1 from enrolment_tokens where id = $1 and revoked_at is null',
          [id],
        ),
      ).toHaveLength(1);
    });
  });

  describe('group policies', () => {
    const put = (
      body: string,
      contentType: string,
      browser = admin,
      csrf: boolean | string = true,
    ) =>
      browser.request({
        method: 'PUT',
        url: policyUrl(),
        headers: { 'content-type': contentType },
        payload: body,
        csrf,
      });

    it('uploads YAML, then JSON: each a new version that devices of the group receive', async () => {
      const before = (await policyVersion()) ?? 0;
      const yaml = exampleYaml.replace('name: Pupil laptops', 'name: Pupil laptops (YAML)');
      const first = await put(yaml, 'application/yaml');
      expect(first.statusCode, first.body).toBe(200);
      const stored = first.json<{
        groupId: string;
        version: number;
        etag: string;
        policy: { name: string };
      }>();
      expect(stored).toMatchObject({ groupId: server.groupId, version: before + 1 });
      expect(stored.policy.name).toBe('Pupil laptops (YAML)');

      const json = {
        ...(parseYaml(exampleYaml) as Record<string, unknown>),
        name: 'Pupil laptops (JSON)',
      };
      const second = await put(JSON.stringify(json), 'application/json');
      expect(second.statusCode, second.body).toBe(200);
      expect(second.json()).toMatchObject({
        version: before + 2,
        policy: { name: 'Pupil laptops (JSON)' },
      });
      const textYaml = await put(yaml, 'text/yaml; charset=utf-8');
      expect(textYaml.statusCode).toBe(200);
      expect(textYaml.json()).toMatchObject({ version: before + 3 });

      const read = await viewer.request({ method: 'GET', url: policyUrl() });
      expect(read.statusCode).toBe(200);
      expect(read.json()).toMatchObject({
        version: before + 3,
        policy: { name: 'Pupil laptops (YAML)' },
      });

      // A device of the group now gets the new version from the device API.
      const device = new TestDevice();
      await device.enrol(server.app, server.token);
      const got = await device.signed(server.app, 'GET', '/api/v1/policy');
      expect(got.status).toBe(200);
      expect(got.json()).toMatchObject({ name: 'Pupil laptops (YAML)', version: before + 3 });
    });

    it.each([
      [
        'an unknown key',
        exampleYaml.replace('checks:\n', 'checks:\n  telepathy:\n    required: true\n'),
        /\/checks\/telepathy/,
      ],
      [
        'a value of the wrong type',
        exampleYaml.replace('maxSignatureAgeDays: 3', 'maxSignatureAgeDays: three'),
        /maxSignatureAgeDays/,
      ],
      ['a document that is not a mapping', '- just\n- a list\n', /\//],
    ])('refuses %s with 400 naming the key; nothing stored', async (_name, yaml, key) => {
      const before = await policyVersion();
      const response = await put(yaml, 'application/yaml');
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ error: 'invalid-policy' });
      expect(response.json<{ message: string }>().message).toMatch(key);
      expect(await policyVersion()).toBe(before);
    });

    it.each([
      ['broken YAML', 'checks: [unclosed', 'application/yaml', 400],
      ['duplicate keys', 'name: a\nname: b\n', 'application/yaml', 400],
      [
        'an alias bomb',
        [
          'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
          'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
          'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
          'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
          'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
          'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
        ].join('\n'),
        'application/yaml',
        400,
      ],
      ['a custom tag', 'name: !!js/function "function(){}"\n', 'application/yaml', 400],
      ['a huge YAML body', `name: x\npad: "${'x'.repeat(300 * 1024)}"\n`, 'application/yaml', 413],
      [
        'a huge JSON body',
        JSON.stringify({ name: 'x'.repeat(300 * 1024) }),
        'application/json',
        413,
      ],
      ['broken JSON', '{"name":', 'application/json', 400],
      ['a NUL in a string', JSON.stringify({ name: 'a\u0000b' }), 'application/json', 400],
      ['an unsupported content type', '<name>x</name>', 'application/xml', 415],
      ['plain text', 'name: x', 'text/plain', 415],
    ])('refuses %s with a 4xx; nothing stored', async (_name, body, type, status) => {
      const before = await policyVersion();
      const response = await put(body, type);
      expect(response.statusCode, response.body).toBe(status);
      expect(await policyVersion()).toBe(before);
    });

    it('a viewer, a missing CSRF token, an unknown or malformed group: 4xx and nothing stored', async () => {
      const before = await policyVersion();
      expect((await put(exampleYaml, 'application/yaml', viewer)).statusCode).toBe(403);
      expect((await put(exampleYaml, 'application/yaml', admin, false)).statusCode).toBe(403);
      const unknown = await admin.request({
        method: 'PUT',
        url: '/api/v1/ict/groups/00000000-0000-4000-8000-000000000000/policy',
        headers: { 'content-type': 'application/yaml' },
        payload: exampleYaml,
      });
      expect(unknown.statusCode).toBe(404);
      const malformed = await admin.request({
        method: 'PUT',
        url: '/api/v1/ict/groups/not-a-group/policy',
        headers: { 'content-type': 'application/yaml' },
        payload: exampleYaml,
      });
      expect(malformed.statusCode).toBe(400);
      expect(await policyVersion()).toBe(before);
      const none = await viewer.request({
        method: 'GET',
        url: '/api/v1/ict/groups/00000000-0000-4000-8000-000000000000/policy',
      });
      expect(none.statusCode).toBe(404);
    });
  });

  describe('accounts', () => {
    const create = (payload: Record<string, unknown>, browser = admin) =>
      browser.request({ method: 'POST', url: '/api/v1/ict/users', payload });

    it('an admin creates a viewer who can then sign in; the same name again is 409', async () => {
      const created = await create({ username: 'new.viewer', password: PASSWORD, role: 'viewer' });
      expect(created.statusCode).toBe(201);
      expect(created.json()).toMatchObject({ username: 'new.viewer', role: 'viewer' });
      expect(created.body).not.toContain(PASSWORD);
      const browser = await signIn(server.app, 'new.viewer');
      const me = await browser.request({ method: 'GET', url: '/api/v1/ict/session' });
      expect(me.json()).toMatchObject({ username: 'new.viewer', role: 'viewer' });
      const again = await create({ username: 'new.viewer', password: PASSWORD, role: 'admin' });
      expect(again.statusCode).toBe(409);
    });

    it("hashing a new account's password takes a place among the password checks: 429 busy when none is free", async () => {
      const gate = new HashGate(1, 0);
      const held = gate.tryEnter();
      const full = await buildApp({
        config: { ...defaultServerConfig, logLevel: 'silent' },
        db: server.db,
        logger: false,
        hashGate: gate,
      });
      try {
        const createOn = () =>
          full.inject({
            method: 'POST',
            url: '/api/v1/ict/users',
            payload: { username: 'gated.viewer', password: PASSWORD, role: 'viewer' },
            headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrfToken },
          });
        const busy = await createOn();
        expect(busy.statusCode).toBe(429);
        expect(busy.json()).toMatchObject({ error: 'busy' });
        expect(
          await server.db.query(`select 1 from users where username = 'gated.viewer'`),
        ).toHaveLength(0);
        held?.leave();
        expect((await createOn()).statusCode).toBe(201);
      } finally {
        await full.close();
      }
    });

    it.each([
      { username: 'short-pass', password: 'too short', role: 'viewer' },
      { username: "bobby'; drop table users; --", password: PASSWORD, role: 'viewer' },
      { username: 'root', password: PASSWORD, role: 'root' },
      { username: 'nul\u0000', password: PASSWORD, role: 'viewer' },
      { username: 'x', password: PASSWORD },
    ])('refuses %j with 400', async (payload) => {
      const before = await server.db.query('select id from users');
      const response = await create(payload);
      expect(response.statusCode).toBe(400);
      expect(await server.db.query('select id from users')).toHaveLength(before.length);
    });
  });
});
