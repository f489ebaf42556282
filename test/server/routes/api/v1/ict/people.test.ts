// The subject access export through the ICT API: admins only, every export in the audit log with
// who asked and whose data, a download whose body matches the published JSON Schema, names with
// backslashes in the query, and impossible names refused in plain words without being echoed.
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { PersonExport, PersonNames } from '../../../../../../shared/index.ts';
import { jsonSchemaFiles } from '../../../../../../scripts/json-schemas.ts';
import { describeEachEngine } from '../../../../../helpers/databases.ts';
import { TestDevice } from '../../../../../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../../../../../helpers/test-server.ts';
import { usbBlockedEvent } from '../../../../../helpers/usb-sample.ts';
import { aupAccepted, documentFor, idleLocked } from '../../../../../helpers/aup-sample.ts';
import { newBrowser, type Browser } from './ict-session.ts';

const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats.default(ajv);
const validateExport = ajv.compile(
  JSON.parse(jsonSchemaFiles()['person-export.schema.json'] ?? '') as object,
);

const exportUrl = (user: string, extra = '') =>
  `/api/v1/ict/people/export?user=${encodeURIComponent(user)}${extra}`;

describeEachEngine('ICT subject access export', (engine) => {
  let server: TestServer;
  let admin: Browser;
  let viewer: Browser;
  const laptop = new TestDevice();
  const desktop = new TestDevice();
  const auditRows = () =>
    server.db.query<{
      actor: string;
      action: string;
      target_type: string;
      target_id: string;
      after: unknown;
    }>(
      "select actor, action, target_type, target_id, after from audit_log where action = 'person.export' order by id",
    );

  beforeAll(async () => {
    server = await startTestServer(engine);
    admin = await newBrowser(server.app, server.db, 'dpo.admin', 'admin');
    viewer = await newBrowser(server.app, server.db, 'esafety.lead', 'viewer');
    for (const device of [laptop, desktop]) {
      expect((await device.enrol(server.app, server.token)).status).toBe(201);
    }
    const pupilAup = await documentFor(server.db, server.groupId, 'pupil');
    const sent = [
      await laptop.postBatch(
        server.app,
        [],
        [
          aupAccepted(pupilAup, { user: 'NORTHGATE\\JSmith' }),
          usbBlockedEvent({ serial: 'S1' }, { user: 'northgate\\jsmith' }),
        ],
      ),
      await desktop.postBatch(
        server.app,
        [],
        [
          aupAccepted(pupilAup, { user: 'northgate\\JSMITH' }),
          idleLocked('Northgate\\JSmith'),
          idleLocked('jsmith'),
          idleLocked('NORTHGATE\\JSmith2'),
        ],
      ),
    ];
    expect(sent.map((r) => r.status)).toEqual([200, 200]);
  });
  afterAll(() => server.close());

  it('downloads everything about one user as JSON matching the published schema, and audits it', async () => {
    const response = await admin.request({ method: 'GET', url: exportUrl('NORTHGATE\\jsmith') });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.headers['content-disposition']).toBe(
      'attachment; filename="hallpass-subject-access-northgate-jsmith.json"',
    );
    expect(response.headers['cache-control']).toBe('no-store');
    const body = response.json<PersonExport>();
    expect(validateExport(body)).toBe(true);
    expect(validateExport.errors ?? []).toEqual([]);
    expect(body).toMatchObject({
      format: 'hallpass-person-export',
      formatVersion: 1,
      user: 'NORTHGATE\\jsmith',
      generatedBy: 'dpo.admin',
    });
    expect(body.aup.items.map((a) => a.deviceId).sort()).toEqual([laptop.id, desktop.id].sort());
    expect(body.events.items.map((e) => e.type).sort()).toEqual([
      'aup.accepted',
      'aup.accepted',
      'idle.locked',
      'usb.blocked',
    ]);
    expect(response.body).not.toContain('JSmith2');
    expect(await auditRows()).toEqual([
      {
        actor: 'dpo.admin',
        action: 'person.export',
        target_type: 'person',
        target_id: 'northgate\\jsmith',
        after: expect.objectContaining({
          user: 'NORTHGATE\\jsmith',
          aupRecords: 2,
          events: 4,
        }) as unknown,
      },
    ]);
  });

  it('refuses a viewer and a stranger, and audits neither', async () => {
    const before = (await auditRows()).length;
    const refused = await viewer.request({ method: 'GET', url: exportUrl('jsmith') });
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ error: 'forbidden' });
    expect(refused.body).not.toContain('idle');
    const names = await viewer.request({
      method: 'GET',
      url: '/api/v1/ict/people/names?user=jsmith',
    });
    expect(names.statusCode).toBe(403);
    const stranger = await server.app.inject({ method: 'GET', url: exportUrl('jsmith') });
    expect(stranger.statusCode).toBe(401);
    expect(await auditRows()).toHaveLength(before);
  });

  it('refuses impossible names in plain words, without echoing them, and audits nothing', async () => {
    const before = (await auditRows()).length;
    const huge = 'x'.repeat(10_000);
    for (const [user, message] of [
      [huge, /at most 256 characters; this one is 10000/],
      ['jsmith\u0007', /no control characters/],
      ['\u001b[2Jjsmith', /no control characters/],
      ['', /Type the user name/],
    ] as const) {
      const response = await admin.request({ method: 'GET', url: exportUrl(user) });
      expect(response.statusCode).toBe(400);
      expect(response.json<{ message: string }>().message).toMatch(message);
      if (user.length > 0) {
        expect(response.body).not.toContain(user);
      }
    }
    for (const url of [
      exportUrl('jsmith\u0000'),
      '/api/v1/ict/people/export',
      exportUrl('jsmith', '&eventsFrom=yesterday'),
      exportUrl('jsmith', '&limit=5'),
    ]) {
      expect((await admin.request({ method: 'GET', url })).statusCode).toBe(400);
    }
    expect(await auditRows()).toHaveLength(before);
  });

  it('exports a user the server has never seen as an empty, still audited, export', async () => {
    const response = await admin.request({ method: 'GET', url: exportUrl('<b>nobody</b>%_\\') });
    expect(response.statusCode).toBe(200);
    const body = response.json<PersonExport>();
    expect(body.aup.items).toEqual([]);
    expect(body.events).toMatchObject({ total: 0, items: [] });
    expect(response.headers['content-disposition']).toBe(
      'attachment; filename="hallpass-subject-access--b-nobody-b-_-.json"',
    );
    const rows = await auditRows();
    expect(rows.at(-1)).toMatchObject({ target_id: '<b>nobody</b>%_\\' });
  });

  it('lists other names with the same account part, for ICT only', async () => {
    const response = await admin.request({
      method: 'GET',
      url: '/api/v1/ict/people/names?user=NORTHGATE%5Cjsmith',
    });
    expect(response.statusCode).toBe(200);
    expect(response.json<PersonNames>()).toEqual({ user: 'NORTHGATE\\jsmith', names: ['jsmith'] });
  });

  it('is described in the OpenAPI document with its query and response', async () => {
    const response = await server.app.inject({ method: 'GET', url: '/openapi.json' });
    const paths = response.json<{
      paths: Record<string, { get?: { parameters?: { name: string }[]; responses?: object } }>;
    }>().paths;
    const route = paths['/api/v1/ict/people/export']?.get;
    expect(route?.parameters?.map((p) => p.name).sort()).toEqual(['eventsFrom', 'user']);
    expect(Object.keys(route?.responses ?? {})).toEqual(
      expect.arrayContaining(['200', '400', '401', '403']),
    );
    expect(paths['/api/v1/ict/people/names']?.get).toBeDefined();
  });
});
