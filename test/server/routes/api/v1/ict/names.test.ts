// Every ICT API input where an admin types a name refuses invisible and broken characters with a
// clear 400, and stores nothing.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachEngine } from '../../../../../helpers/databases.ts';
import { startTestServer, type TestServer } from '../../../../../helpers/test-server.ts';
import { newBrowser, type Browser } from './ict-session.ts';

const example = new URL('../../../../../../agent/core/policy/example-policy.yaml', import.meta.url)
  .pathname;

// As typed or pasted: a right-to-left override, a zero-width space, a byte-order mark, an isolate.
// The lone surrogate is written as a JSON escape, the only way one can arrive in valid UTF-8.
const BAD = [
  ['a right-to-left override', JSON.stringify('Northgate \u202Eyramirp'), 'U+202E'],
  ['a zero-width space', JSON.stringify('North\u200Bgate'), 'U+200B'],
  ['a byte-order mark', JSON.stringify('\uFEFFNorthgate'), 'U+FEFF'],
  ['a first-strong isolate', JSON.stringify('Northgate \u2068x'), 'U+2068'],
  ['a lone surrogate', '"Northgate \\ud800"', 'surrogate'],
] as const;

describeEachEngine('names typed by an admin', (engine) => {
  let server: TestServer;
  let admin: Browser;
  beforeAll(async () => {
    server = await startTestServer(engine);
    admin = await newBrowser(server.app, server.db, 'ada', 'admin');
  });
  afterAll(() => server.close());

  const post = (url: string, json: string) =>
    admin.request({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json' },
      payload: json,
    });

  it.each(BAD)(
    'a school or group name with %s is 400 invalid-name; nothing stored',
    async (_what, name, shown) => {
      for (const [url, table] of [
        ['/api/v1/ict/schools', 'schools'],
        ['/api/v1/ict/groups', 'device_groups'],
      ] as const) {
        const before = (await server.db.query(`select 1 from ${table}`)).length;
        const response = await post(url, `{"name":${name}}`);
        expect(response.statusCode, url).toBe(400);
        expect(response.json()).toMatchObject({ error: 'invalid-name' });
        expect(response.json<{ message: string }>().message).toContain(shown);
        expect(await server.db.query(`select 1 from ${table}`)).toHaveLength(before);
      }
    },
  );

  it.each(BAD)(
    "a token's label with %s is 400 invalid-name; no token made",
    async (_what, label, shown) => {
      const before = (await server.db.query('select 1 from enrolment_tokens')).length;
      const response = await post(
        '/api/v1/ict/tokens',
        `{"schoolId":"${server.schoolId}","groupId":"${server.groupId}","label":${label},"expiresInDays":1,"maxUses":1}`,
      );
      expect(response.statusCode).toBe(400);
      expect(response.json<{ message: string }>().message).toContain(shown);
      expect(await server.db.query('select 1 from enrolment_tokens')).toHaveLength(before);
    },
  );

  it.each(BAD)(
    "a policy's name with %s is 400 invalid-name; no new version",
    async (_what, name, shown) => {
      const yaml = (await readFile(example, 'utf8')).replace(/^name: .*$/m, `name: ${name}`);
      const version = async () =>
        (
          await server.db.query<{ v: number }>(
            'select coalesce(max(version), 0)::int as v from policies where group_id = $1',
            [server.groupId],
          )
        )[0]?.v;
      const before = await version();
      const response = await admin.request({
        method: 'PUT',
        url: `/api/v1/ict/groups/${server.groupId}/policy`,
        headers: { 'content-type': 'application/yaml' },
        payload: yaml,
      });
      expect(response.statusCode, response.body).toBe(400);
      expect(response.json<{ message: string }>().message).toContain(shown);
      expect(await version()).toBe(before);
    },
  );

  it('ordinary names in any script are accepted, and stored exactly as typed', async () => {
    for (const name of ['École Saint-Exupéry', 'مدرسة النور', 'Ysgol Gymraeg 😀']) {
      const response = await post('/api/v1/ict/schools', JSON.stringify({ name }));
      expect(response.statusCode, name).toBe(201);
      expect(response.json()).toMatchObject({ name });
    }
  });

  it('a body that is not valid UTF-8 is refused, not stored with U+FFFD in place', async () => {
    const before = (await server.db.query('select 1 from schools')).length;
    const response = await admin.request({
      method: 'POST',
      url: '/api/v1/ict/schools',
      headers: { 'content-type': 'application/json' },
      payload: Buffer.concat([
        Buffer.from('{"name":"North'),
        Buffer.from([0xc3, 0x28]),
        Buffer.from('gate"}'),
      ]),
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: 'invalid-json' });
    expect(await server.db.query('select 1 from schools')).toHaveLength(before);
  });
});
