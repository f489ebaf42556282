// `GET /api/v1/ict/schools/:id/compliance`: read by any signed-in account, answered in the
// contract's shape, and refused in plain words for a malformed or unknown school.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Value } from 'typebox/value';
import { SchoolPageSchema, type SchoolPage } from '../../../../../../shared/index.ts';
import { describeEachEngine } from '../../../../../helpers/databases.ts';
import { report, result, sampleFacts, TestDevice } from '../../../../../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../../../../../helpers/test-server.ts';
import { newBrowser, type Browser } from './ict-session.ts';

describeEachEngine('school page API', (engine) => {
  let server: TestServer;
  let viewer: Browser;

  beforeAll(async () => {
    server = await startTestServer(engine);
    viewer = await newBrowser(server.app, server.db, 'vic', 'viewer');
    const device = new TestDevice(sampleFacts({ hostname: 'ng-001' }));
    expect((await device.enrol(server.app, server.token)).status).toBe(201);
    const at = new Date();
    const sent = await device.postBatch(server.app, [
      report(device.facts, [result('firewall', 'fail', at)], at),
    ]);
    expect(sent.status).toBe(200);
  });
  afterAll(() => server.close());

  const url = (id: string, query = '') => `/api/v1/ict/schools/${id}/compliance${query}`;

  it('lets a viewer read the school’s page, in the contract’s shape', async () => {
    const response = await viewer.request({ method: 'GET', url: url(server.schoolId) });
    expect(response.statusCode).toBe(200);
    const page = response.json<SchoolPage>();
    expect(Value.Check(SchoolPageSchema, page)).toBe(true);
    expect(page.school.name).toBe('Northgate Primary');
    expect(page.byCheck).toEqual([
      { checkId: 'firewall', counts: { pass: 0, fail: 1, warn: 0, unknown: 0, none: 0 } },
    ]);
    expect(page.failures.items.map((i) => i.hostname)).toEqual(['ng-001']);
    expect(page.staleDays).toBe(7);
    const lenient = await viewer.request({
      method: 'GET',
      url: url(server.schoolId, '?staleDays=30'),
    });
    expect(lenient.json<SchoolPage>().staleDays).toBe(30);
  });

  it('needs a session', async () => {
    const response = await server.app.inject({ method: 'GET', url: url(server.schoolId) });
    expect(response.statusCode).toBe(401);
  });

  it('answers 404 in words for an unknown school, 400 for an id that is not one', async () => {
    const unknown = await viewer.request({
      method: 'GET',
      url: url('0b7f1c7e-2a0e-4f55-9d8e-6f0d3c1b2a90'),
    });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toEqual({ error: 'not-found', message: 'No such school.' });
    const malformed = await viewer.request({ method: 'GET', url: url('not-a-school') });
    expect(malformed.statusCode).toBe(400);
    const badDays = await viewer.request({
      method: 'GET',
      url: url(server.schoolId, '?staleDays=0'),
    });
    expect(badDays.statusCode).toBe(400);
  });
});
