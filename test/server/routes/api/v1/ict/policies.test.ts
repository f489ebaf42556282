// Policies per device group through the real ICT API, on both engines: the history of versions
// with who published each, any old version as canonical YAML, the dry-run check (the PUT's own
// words, each problem on its line, a diff against the version in force, nothing written), If-Match
// on publishing, and rollback (a new version, audited with before and after, served to devices).
// Viewers read everything and every change of theirs is 403.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type {
  GroupPolicyList,
  PolicyCheckResponse,
  PolicyVersionDetail,
  PolicyVersionList,
} from '../../../../../../shared/index.ts';
import { describeEachEngine } from '../../../../../helpers/databases.ts';
import { TestDevice } from '../../../../../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../../../../../helpers/test-server.ts';
import { newBrowser, type Browser } from './ict-session.ts';

const exampleYaml = await readFile(
  new URL('../../../../../../agent/core/policy/example-policy.yaml', import.meta.url),
  'utf8',
);
const UNKNOWN_GROUP = '00000000-0000-4000-8000-000000000000';
/** The example with its name changed: a valid new version. */
const named = (name: string) => exampleYaml.replace('name: Pupil laptops', `name: ${name}`);
/** The example with `screenLock` typed wrong. */
const typo = exampleYaml.replace('  screenLock:\n', '  screenLok:\n');
const lineOf = (text: string, needle: string) =>
  text.split('\n').findIndex((line) => line.includes(needle)) + 1;

describeEachEngine('group policy history, check and rollback', (engine) => {
  let server: TestServer;
  let admin: Browser;
  let viewer: Browser;
  let auditSeen: number;
  const base = () => `/api/v1/ict/groups/${server.groupId}/policy`;

  const versionCount = async () =>
    (
      await server.db.query<{ n: number }>(
        'select count(*)::int as n from policies where group_id = $1',
        [server.groupId],
      )
    )[0]?.n ?? 0;
  /** Audit rows written since the last call. */
  const newAudit = async () => {
    const rows = await server.db.query<{ action: string; before: unknown; after: unknown }>(
      'select action, before, after from audit_log order by id',
    );
    const fresh = rows.slice(auditSeen);
    auditSeen = rows.length;
    return fresh;
  };
  const put = (body: string, headers: Record<string, string> = {}, browser = admin) =>
    browser.request({
      method: 'PUT',
      url: base(),
      headers: { 'content-type': 'application/yaml', ...headers },
      payload: body,
    });
  const check = (
    body: string,
    contentType = 'application/yaml',
    browser = admin,
    groupId = server.groupId,
  ) =>
    browser.request({
      method: 'POST',
      url: `/api/v1/ict/groups/${groupId}/policy/check`,
      headers: { 'content-type': contentType },
      payload: body,
    });
  const rollback = (version: unknown, headers: Record<string, string> = {}, browser = admin) =>
    browser.request({ method: 'POST', url: `${base()}/rollback`, headers, payload: { version } });
  const versions = async (browser = viewer) => {
    const response = await browser.request({ method: 'GET', url: `${base()}/versions` });
    expect(response.statusCode, response.body).toBe(200);
    return response.json<PolicyVersionList>();
  };
  const inForce = async () =>
    (await viewer.request({ method: 'GET', url: base() })).json<{
      version: number;
      etag: string;
      policy: { name: string };
    }>();

  beforeAll(async () => {
    server = await startTestServer(engine);
    admin = await newBrowser(server.app, server.db, 'ada', 'admin');
    viewer = await newBrowser(server.app, server.db, 'vic', 'viewer');
  });
  afterAll(() => server.close());
  beforeEach(async () => {
    await newAudit();
  });

  describe('history', () => {
    it('lists every version newest first: when, by whom (null for the command line), what it restored', async () => {
      // The test server's first version came from the command line's store call.
      expect((await put(named('Pupil laptops A'))).statusCode).toBe(200);
      expect((await put(named('Pupil laptops B'))).statusCode).toBe(200);
      const list = await versions();
      expect(list).toMatchObject({
        groupId: server.groupId,
        group: 'Pupil laptops',
        devices: 0,
        total: 3,
      });
      expect(list.items.map((item) => [item.version, item.publishedBy, item.restoredFrom])).toEqual(
        [
          [3, 'ada', null],
          [2, 'ada', null],
          [1, null, null],
        ],
      );
      const current = await inForce();
      expect(list.items[0]?.etag).toBe(current.etag);
      for (const item of list.items) {
        expect(Date.parse(item.publishedAt)).toBeGreaterThan(Date.now() - 600_000);
      }
    });

    it('answers any version with its document and canonical YAML; 404 for none, 400 for a malformed id', async () => {
      const one = await viewer.request({ method: 'GET', url: `${base()}/versions/1` });
      expect(one.statusCode).toBe(200);
      const detail = one.json<PolicyVersionDetail>();
      expect(detail).toMatchObject({ groupId: server.groupId, version: 1, publishedBy: null });
      expect(detail.policy).toMatchObject({ name: 'Pupil laptops', version: 1 });
      // Canonical YAML: the schema's key order (jsonb stores its own), the same document again.
      expect(detail.yaml.split('\n').slice(0, 4)).toEqual([
        'schemaVersion: 1',
        'name: Pupil laptops',
        'version: 1',
        'checks:',
      ]);
      expect(parseYaml(detail.yaml)).toEqual(detail.policy);

      for (const [url, status] of [
        [`${base()}/versions/99`, 404],
        [`/api/v1/ict/groups/${UNKNOWN_GROUP}/policy/versions/1`, 404],
        [`/api/v1/ict/groups/${UNKNOWN_GROUP}/policy/versions`, 404],
        [`${base()}/versions/0`, 400],
        [`${base()}/versions/two`, 400],
        ['/api/v1/ict/groups/not-a-group/policy/versions', 400],
      ] as const) {
        expect((await viewer.request({ method: 'GET', url })).statusCode, url).toBe(status);
      }
    });

    it('GET /policies lists every group with its version in force, or none', async () => {
      const created = await admin.request({
        method: 'POST',
        url: '/api/v1/ict/groups',
        payload: { name: 'Staff <b>laptops</b>' },
      });
      expect(created.statusCode).toBe(201);
      const device = new TestDevice();
      expect((await device.enrol(server.app, server.token)).status).toBe(201);
      const response = await viewer.request({ method: 'GET', url: '/api/v1/ict/policies' });
      expect(response.statusCode).toBe(200);
      const { items } = response.json<GroupPolicyList>();
      const current = await inForce();
      expect(items.find((item) => item.groupId === server.groupId)).toMatchObject({
        group: 'Pupil laptops',
        devices: 1,
        current: {
          version: current.version,
          etag: current.etag,
          name: current.policy.name,
          publishedBy: 'ada',
        },
      });
      expect(items.find((item) => item.group === 'Staff <b>laptops</b>')).toMatchObject({
        devices: 0,
        current: null,
      });
      expect(
        (await server.app.inject({ method: 'GET', url: '/api/v1/ict/policies' })).statusCode,
      ).toBe(401);
    });
  });

  describe('check (dry run)', () => {
    it('a valid change: valid, the diff against the version in force, and nothing written', async () => {
      const current = await inForce();
      const before = await versionCount();
      const response = await check(named('Pupil laptops (autumn)'));
      expect(response.statusCode, response.body).toBe(200);
      const result = response.json<PolicyCheckResponse>();
      expect(result).toMatchObject({
        valid: true,
        message: null,
        problems: [],
        base: { version: current.version, etag: current.etag },
        nextVersion: current.version + 1,
        unchanged: false,
      });
      const changed = result.diff?.lines.filter((line) => line.change !== 'same');
      expect(changed).toEqual([
        { change: 'removed', text: `name: ${current.policy.name}`, oldLine: 2, newLine: null },
        {
          change: 'removed',
          text: `version: ${String(current.version)}`,
          oldLine: 3,
          newLine: null,
        },
        { change: 'added', text: 'name: Pupil laptops (autumn)', oldLine: null, newLine: 2 },
        {
          change: 'added',
          text: `version: ${String(current.version + 1)}`,
          oldLine: null,
          newLine: 3,
        },
      ]);
      expect(result.diff).toMatchObject({ added: 2, removed: 2, minimal: true });
      expect(parseYaml(result.yaml ?? '')).toMatchObject({
        name: 'Pupil laptops (autumn)',
        version: current.version + 1,
      });
      expect(await versionCount()).toBe(before);
      expect(await newAudit()).toEqual([]);
      // A viewer may check too (it changes nothing), with the session's CSRF token.
      const asViewer = await check(named('Pupil laptops (autumn)'), 'application/yaml', viewer);
      expect(asViewer.statusCode).toBe(200);
      expect(asViewer.json<PolicyCheckResponse>().diff).toEqual(result.diff);
    });

    it("a typo'd key: the key named as PUT names it, on its line; PUT refuses the same body with the same words", async () => {
      const response = await check(typo);
      expect(response.statusCode).toBe(200);
      const result = response.json<PolicyCheckResponse>();
      expect(result.valid).toBe(false);
      expect(result.problems).toContainEqual({
        path: '/checks/screenLok',
        message: 'unknown key',
        line: lineOf(typo, 'screenLok:'),
      });
      expect(result.problems).toContainEqual({
        path: '/checks',
        message: 'must have required properties screenLock',
        line: lineOf(typo, 'checks:'),
      });
      const refused = await put(typo);
      expect(refused.statusCode).toBe(400);
      expect(refused.json()).toEqual({ error: 'invalid-policy', message: result.message });
      expect(result.message).toContain('/checks/screenLok: unknown key');
      // The diff still shows the change being made.
      expect(result.diff?.lines).toContainEqual(
        expect.objectContaining({ change: 'added', text: '  screenLok:' }),
      );
      expect(await newAudit()).toEqual([]);
    });

    it.each([
      ['broken YAML', 'checks: [unclosed', 'invalid-yaml', 1],
      ['a duplicate key', 'name: a\nname: b\n', 'invalid-yaml', 2],
    ])('%s: a problem on its line, in the words of the PUT', async (_name, body, code, line) => {
      const result = (await check(body)).json<PolicyCheckResponse>();
      expect(result).toMatchObject({ valid: false, yaml: null, diff: null });
      expect(result.problems).toEqual([
        { path: '/', message: expect.stringMatching(/^not valid YAML: /) as unknown, line },
      ]);
      const refused = await put(body);
      expect(refused.statusCode).toBe(400);
      expect(refused.json()).toEqual({ error: code, message: result.message });
    });

    it('a name with an invisible control: the same refusal as PUT, at /name', async () => {
      const body = named('Pupil\u202Elaptops');
      const result = (await check(body)).json<PolicyCheckResponse>();
      expect(result.valid).toBe(false);
      expect(result.problems).toEqual([
        {
          path: '/name',
          message: expect.stringContaining('U+202E') as unknown,
          line: lineOf(body, 'name:'),
        },
      ]);
      const refused = await put(body);
      expect(refused.json()).toEqual({ error: 'invalid-name', message: result.message });
    });

    it('JSON too (problems without lines); the version in force again is unchanged', async () => {
      const current = await inForce();
      const same = JSON.stringify({ ...current.policy, version: 1 });
      const result = (await check(same, 'application/json')).json<PolicyCheckResponse>();
      expect(result).toMatchObject({ valid: true, unchanged: true });
      const bad = JSON.stringify({ ...current.policy, telepathy: true });
      const refused = (await check(bad, 'application/json')).json<PolicyCheckResponse>();
      expect(refused.problems).toEqual([
        { path: '/telepathy', message: 'unknown key', line: null },
      ]);
    });

    it('refuses an unknown group, no session, no CSRF token, a huge body, another media type', async () => {
      expect((await check(exampleYaml, undefined, admin, UNKNOWN_GROUP)).statusCode).toBe(404);
      expect(
        (
          await server.app.inject({
            method: 'POST',
            url: `${base()}/check`,
            headers: { 'content-type': 'application/yaml' },
            payload: exampleYaml,
          })
        ).statusCode,
      ).toBe(401);
      const noCsrf = await viewer.request({
        method: 'POST',
        url: `${base()}/check`,
        headers: { 'content-type': 'application/yaml' },
        payload: exampleYaml,
        csrf: false,
      });
      expect(noCsrf.statusCode).toBe(403);
      expect((await check(`name: x\npad: "${'x'.repeat(300 * 1024)}"\n`)).statusCode).toBe(413);
      expect((await check('name: x', 'text/plain')).statusCode).toBe(415);
    });
  });

  describe('publishing with If-Match', () => {
    it('publishes over the version it was checked against; a stale ETag is 412 and stores nothing', async () => {
      const current = await inForce();
      const stale = await put(named('Stale edit'), { 'if-match': '"not-the-etag"' });
      expect(stale.statusCode).toBe(412);
      expect(stale.json<{ error: string; message: string }>()).toMatchObject({
        error: 'policy-changed',
        message: expect.stringContaining(
          `Version ${String(current.version)} is now in force`,
        ) as unknown,
      });
      expect((await inForce()).version).toBe(current.version);
      expect(await newAudit()).toEqual([]);

      const fresh = await put(named('Fresh edit'), { 'if-match': current.etag });
      expect(fresh.statusCode, fresh.body).toBe(200);
      expect(fresh.json()).toMatchObject({ version: current.version + 1 });
      expect(await newAudit()).toMatchObject([{ action: 'policy.upload' }]);
    });

    it('two admins publishing over the same version at once: one wins, the other gets 412', async () => {
      const current = await inForce();
      const results = await Promise.all([
        put(named('First'), { 'if-match': current.etag }),
        put(named('Second'), { 'if-match': current.etag }),
      ]);
      expect(results.map((r) => r.statusCode).sort()).toEqual([200, 412]);
      expect((await inForce()).version).toBe(current.version + 1);
      expect(await newAudit()).toHaveLength(1);
    });

    it('two admins publishing the first version of a new group at once: one wins, the other gets 412', async () => {
      const created = await admin.request({
        method: 'POST',
        url: '/api/v1/ict/groups',
        payload: { name: 'Library PCs' },
      });
      expect(created.statusCode, created.body).toBe(201);
      const groupId = created.json<{ id: string }>().id;
      await newAudit();
      const first = (name: string) =>
        admin.request({
          method: 'PUT',
          url: `/api/v1/ict/groups/${groupId}/policy`,
          headers: { 'content-type': 'application/yaml', 'if-none-match': '*' },
          payload: named(name),
        });
      const results = await Promise.all([first('First'), first('Second')]);
      expect(results.map((r) => r.statusCode).sort()).toEqual([200, 412]);
      const refused = results.find((r) => r.statusCode === 412);
      expect(refused?.json()).toMatchObject({
        error: 'policy-changed',
        message: expect.stringContaining('Version 1 is now in force') as unknown,
      });
      const stored = await server.db.query<{ version: number }>(
        'select version from policies where group_id = $1',
        [groupId],
      );
      expect(stored).toEqual([{ version: 1 }]);
      expect(await newAudit()).toMatchObject([{ action: 'policy.upload', before: null }]);
      // Once a version is in force, "first version" is always stale.
      expect((await first('Third')).statusCode).toBe(412);
      expect(await newAudit()).toEqual([]);
    });
  });

  describe('rollback', () => {
    it('publishes the old document as a new version, audited with before and after, served to devices', async () => {
      const device = new TestDevice();
      expect((await device.enrol(server.app, server.token)).status).toBe(201);
      const current = await inForce();
      const response = await rollback(1, { 'if-match': current.etag });
      expect(response.statusCode, response.body).toBe(200);
      const next = current.version + 1;
      expect(response.json()).toMatchObject({
        groupId: server.groupId,
        version: next,
        restoredFrom: 1,
        policy: { name: 'Pupil laptops', version: next },
      });
      const one = (
        await viewer.request({ method: 'GET', url: `${base()}/versions/1` })
      ).json<PolicyVersionDetail>();
      expect((await inForce()).policy).toEqual({ ...(one.policy as object), version: next });

      const [row, ...more] = await newAudit();
      expect(more).toEqual([]);
      expect(row).toMatchObject({
        action: 'policy.rollback',
        before: {
          version: current.version,
          etag: current.etag,
          policy: { name: current.policy.name },
        },
        after: { version: next, restoredFrom: 1, policy: { name: 'Pupil laptops', version: next } },
      });
      const list = await versions();
      expect(list.items[0]).toMatchObject({ version: next, publishedBy: 'ada', restoredFrom: 1 });

      const got = await device.signed(server.app, 'GET', '/api/v1/policy');
      expect(got.status).toBe(200);
      expect(got.json()).toMatchObject({ name: 'Pupil laptops', version: next });
    });

    it('refuses the version in force, a copy of it, no such version, a stale ETag: nothing stored, nothing audited', async () => {
      const current = await inForce();
      const before = await versionCount();
      const cases: [unknown, Record<string, string>, number, string][] = [
        [current.version, {}, 409, 'in-force'],
        // Version 1 is what the last test restored: publishing it again would change nothing.
        [1, {}, 409, 'no-change'],
        [999, {}, 404, 'not-found'],
        [2, { 'if-match': '"stale"' }, 412, 'policy-changed'],
        ['two', {}, 400, 'invalid-request'],
        [0, {}, 400, 'invalid-request'],
      ];
      for (const [version, headers, status, error] of cases) {
        const response = await rollback(version, headers);
        expect(response.statusCode, `${String(version)}: ${response.body}`).toBe(status);
        expect(response.json()).toMatchObject({ error });
      }
      const unknown = await admin.request({
        method: 'POST',
        url: `/api/v1/ict/groups/${UNKNOWN_GROUP}/policy/rollback`,
        payload: { version: 1 },
      });
      expect(unknown.statusCode).toBe(404);
      expect(await versionCount()).toBe(before);
      expect(await newAudit()).toEqual([]);
    });

    it('refuses an old version that no longer passes the policy checks, naming the key', async () => {
      // A version stored before a key was dropped from the schema, as an older server accepted it.
      const one = (
        await viewer.request({ method: 'GET', url: `${base()}/versions/1` })
      ).json<PolicyVersionDetail>();
      const version = (await versionCount()) + 1;
      await server.db.query(
        `insert into policies (group_id, version, document, etag) values ($1, $2, $3, '"old"')`,
        [
          server.groupId,
          version,
          JSON.stringify({ ...(one.policy as object), retired: true, version }),
        ],
      );
      await put(named('After the old one'));
      await newAudit();
      const response = await rollback(version);
      expect(response.statusCode).toBe(409);
      expect(response.json<{ message: string }>()).toMatchObject({
        error: 'invalid-policy',
        message: expect.stringContaining('/retired: unknown key') as unknown,
      });
      // Its detail is still readable, as stored.
      const detail = (
        await viewer.request({ method: 'GET', url: `${base()}/versions/${String(version)}` })
      ).json<PolicyVersionDetail>();
      expect(detail.policy).toMatchObject({ retired: true });
      expect(detail.yaml).toContain('retired: true');
      expect(await newAudit()).toEqual([]);
    });

    it('a viewer cannot publish, roll back, or skip CSRF; reads are open to them', async () => {
      const before = await versionCount();
      for (const response of [
        await put(named('Viewer edit'), {}, viewer),
        await rollback(1, {}, viewer),
      ]) {
        expect(response.statusCode).toBe(403);
        expect(response.json()).toMatchObject({ error: 'forbidden' });
      }
      const noCsrf = await admin.request({
        method: 'POST',
        url: `${base()}/rollback`,
        payload: { version: 2 },
        csrf: false,
      });
      expect(noCsrf.statusCode).toBe(403);
      expect(noCsrf.json()).toMatchObject({ error: 'csrf' });
      expect(await versionCount()).toBe(before);
      expect(await newAudit()).toEqual([]);
    });

    it('the database allows only an earlier version of the same group as restored_from', async () => {
      const version = (await versionCount()) + 1;
      const other = await server.db.query<{ id: string }>(
        "insert into device_groups (name) values ('No history') returning id",
      );
      const otherId = other[0]?.id ?? '';
      for (const [groupId, restored] of [
        [server.groupId, version],
        [server.groupId, version + 5],
        // Earlier, but that group has no such version.
        [otherId, 1],
      ] as const) {
        await expect(
          server.db.query(
            `insert into policies (group_id, version, document, etag, restored_from)
             values ($1, $2, '{}', '"x"', $3)`,
            [groupId, groupId === otherId ? 2 : version, restored],
          ),
        ).rejects.toThrow();
      }
    });
  });
});
