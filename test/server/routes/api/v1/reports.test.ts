import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../../../../../shared/index.ts';
import { describeEachEngine } from '../../../../helpers/databases.ts';
import { report, result, send, TestDevice, usbBlocked } from '../../../../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../../../../helpers/test-server.ts';

describeEachEngine('POST /api/v1/reports', (engine) => {
  let server: TestServer;
  const device = new TestDevice();
  const other = new TestDevice();
  beforeAll(async () => {
    server = await startTestServer(engine);
    await device.enrol(server.app, server.token);
    await other.enrol(server.app, server.token);
  });
  afterAll(() => server.close());

  const count = async (table: string, deviceId: string) =>
    (await server.db.query(`select 1 from ${table} where device_id = $1`, [deviceId])).length;

  it('stores the latest state per check and the events, and answers the accepted ids', async () => {
    const r = report(device.facts, [result('disk-encryption', 'pass'), result('firewall', 'fail')]);
    const e = usbBlocked();
    const answer = await device.postBatch(server.app, [r], [e]);
    expect(answer.status).toBe(200);
    expect((answer.json() as { accepted: string[] }).accepted.sort()).toEqual([r.id, e.id].sort());
    const states = await server.db.query<{ check_id: string; status: string }>(
      'select check_id, status from check_states where device_id = $1 order by check_id',
      [device.id],
    );
    expect(states).toEqual([
      { check_id: 'disk-encryption', status: 'pass' },
      { check_id: 'firewall', status: 'fail' },
    ]);
    const [row] = await server.db.query<{ overall_status: string }>(
      'select overall_status from devices where id = $1',
      [device.id],
    );
    expect(row?.overall_status).toBe('fail');
  });

  it('keeps the reason of an unknown result, so ICT can see why the agent could not tell', async () => {
    await device.postBatch(server.app, [report(device.facts, [result('screen-lock', 'unknown')])]);
    const [state] = await server.db.query<{ reason: unknown }>(
      "select reason from check_states where device_id = $1 and check_id = 'screen-lock'",
      [device.id],
    );
    expect(state?.reason).toEqual({ code: 'timeout', detail: 'slow' });
  });

  it('a resent batch stores nothing twice and is accepted again', async () => {
    const r = report(device.facts, [result('antivirus', 'pass')]);
    const e = usbBlocked();
    await device.postBatch(server.app, [r], [e]);
    const reports = await count('reports', device.id);
    const events = await count('events', device.id);
    const again = await device.postBatch(server.app, [r], [e]);
    expect((again.json() as { accepted: string[] }).accepted.sort()).toEqual([r.id, e.id].sort());
    expect(await count('reports', device.id)).toBe(reports);
    expect(await count('events', device.id)).toBe(events);
  });

  it('an item listed twice in one batch is stored once and accepted', async () => {
    const r = report(device.facts, [result('antivirus', 'warn')]);
    const e = usbBlocked();
    const reports = await count('reports', device.id);
    const changes = await count('check_changes', device.id);
    const answer = await device.postBatch(server.app, [r, r], [e, e]);
    expect(answer.status).toBe(200);
    expect((answer.json() as { accepted: string[] }).accepted).toEqual([r.id, r.id, e.id, e.id]);
    expect(await count('reports', device.id)).toBe(reports + 1);
    expect(await count('check_changes', device.id)).toBe(changes + 1);
  });

  it('keeps a history of status changes only, and an older report never overwrites a newer state', async () => {
    const t = (minutes: number) => new Date(Date.parse('2026-11-20T09:00:00Z') + minutes * 60_000);
    const d = new TestDevice();
    await d.enrol(server.app, server.token);
    const sequence = ['pass', 'pass', 'fail', 'fail', 'pass'] as const;
    for (const [i, status] of sequence.entries()) {
      await d.postBatch(server.app, [report(d.facts, [result('os-updates', status, t(i))], t(i))]);
    }
    // A report measured before all of them arrives late (an outbox emptying after weeks offline).
    await d.postBatch(server.app, [
      report(d.facts, [result('os-updates', 'unknown', t(-60))], t(-60)),
    ]);
    const history = await server.db.query<{ from_status: string | null; to_status: string }>(
      'select from_status, to_status from check_changes where device_id = $1 order by measured_at',
      [d.id],
    );
    expect(history).toEqual([
      { from_status: null, to_status: 'pass' },
      { from_status: 'pass', to_status: 'fail' },
      { from_status: 'fail', to_status: 'pass' },
    ]);
    const [state] = await server.db.query<{ status: string }>(
      'select status from check_states where device_id = $1',
      [d.id],
    );
    expect(state?.status).toBe('pass');
  });

  it('applies a batch of many reports (an outbox emptying after days offline) in time order', async () => {
    const t = (hours: number) => new Date(Date.parse('2026-11-10T09:00:00Z') + hours * 3_600_000);
    const d = new TestDevice();
    await d.enrol(server.app, server.token);
    const statuses = ['pass', 'fail', 'fail', 'pass', 'warn', 'warn'] as const;
    // Sent out of order: the server sorts by creation time.
    const batch = statuses.map((status, i) =>
      report(d.facts, [result('antivirus', status, t(i)), result('firewall', 'pass', t(i))], t(i)),
    );
    expect((await d.postBatch(server.app, [...batch].reverse())).status).toBe(200);
    const history = await server.db.query<{
      check_id: string;
      from_status: string | null;
      to_status: string;
      measured_at: Date;
    }>(
      'select check_id, from_status, to_status, measured_at from check_changes where device_id = $1 order by check_id, measured_at',
      [d.id],
    );
    expect(
      history.map((h) => [h.check_id, h.from_status, h.to_status, h.measured_at.toISOString()]),
    ).toEqual([
      ['antivirus', null, 'pass', t(0).toISOString()],
      ['antivirus', 'pass', 'fail', t(1).toISOString()],
      ['antivirus', 'fail', 'pass', t(3).toISOString()],
      ['antivirus', 'pass', 'warn', t(4).toISOString()],
      ['firewall', null, 'pass', t(0).toISOString()],
    ]);
    const states = await server.db.query<{
      check_id: string;
      status: string;
      changed_at: Date;
      measured_at: Date;
    }>(
      'select check_id, status, changed_at, measured_at from check_states where device_id = $1 order by check_id',
      [d.id],
    );
    expect(
      states.map((s) => [
        s.check_id,
        s.status,
        s.changed_at.toISOString(),
        s.measured_at.toISOString(),
      ]),
    ).toEqual([
      ['antivirus', 'warn', t(4).toISOString(), t(5).toISOString()],
      ['firewall', 'pass', t(0).toISOString(), t(5).toISOString()],
    ]);
    const [row] = await server.db.query<{ overall_status: string; last_report_at: Date }>(
      'select overall_status, last_report_at from devices where id = $1',
      [d.id],
    );
    expect(row?.overall_status).toBe('warn');
    expect(row?.last_report_at.toISOString()).toBe(t(5).toISOString());
  });

  it('a report id another device holds writes only the sender’s own state, never the holder’s', async () => {
    const r = report(device.facts, [result('agent-health', 'pass')]);
    await device.postBatch(server.app, [r]);
    // The other device sends a report under the same id, saying the check fails.
    const copy = { ...r, device: other.facts, results: [result('agent-health', 'fail')] };
    const answer = await other.postBatch(server.app, [copy]);
    expect(answer.status).toBe(200);
    const status = async (deviceId: string) =>
      (
        await server.db.query<{ status: string }>(
          "select status from check_states where device_id = $1 and check_id = 'agent-health'",
          [deviceId],
        )
      )[0]?.status;
    expect(await status(device.id)).toBe('pass');
    expect(await status(other.id)).toBe('fail');
    // The raw report under that id is still the first device's.
    const raw = await server.db.query<{ device_id: string }>(
      'select device_id from reports where id = $1',
      [r.id],
    );
    expect(raw).toEqual([{ device_id: device.id }]);
  });

  it('a request signed with another device key under this keyid is refused and stores nothing', async () => {
    const body = JSON.stringify({
      schemaVersion: SCHEMA_VERSION,
      reports: [report(device.facts, [result('firewall', 'fail')])],
      events: [],
    });
    const forged = other.sign('POST', '/api/v1/reports', body, { keyId: device.id });
    const before = await count('reports', device.id);
    const answer = await send(server.app, 'POST', '/api/v1/reports', body, forged);
    expect(answer.status).toBe(401);
    expect(answer.json()).toMatchObject({ error: 'bad-signature' });
    expect(await count('reports', device.id)).toBe(before);
  });

  it('a replayed request is refused', async () => {
    const body = JSON.stringify({
      schemaVersion: SCHEMA_VERSION,
      reports: [],
      events: [usbBlocked()],
    });
    const headers = device.sign('POST', '/api/v1/reports', body);
    expect((await send(server.app, 'POST', '/api/v1/reports', body, headers)).status).toBe(200);
    const replay = await send(server.app, 'POST', '/api/v1/reports', body, headers);
    expect(replay.status).toBe(401);
    expect(replay.json()).toMatchObject({ error: 'replayed' });
  });

  it('a body that does not match its digest is refused', async () => {
    const body = JSON.stringify({
      schemaVersion: SCHEMA_VERSION,
      reports: [],
      events: [usbBlocked()],
    });
    const headers = device.sign('POST', '/api/v1/reports', body);
    const altered = body.replace('usb.blocked', 'usb.allowed');
    const answer = await send(server.app, 'POST', '/api/v1/reports', altered, headers);
    expect(answer.status).toBe(400);
    expect(answer.json()).toMatchObject({ error: 'digest-mismatch' });
  });

  it('a stale request is refused with the server time so the device can correct its clock', async () => {
    const body = JSON.stringify({ schemaVersion: SCHEMA_VERSION, reports: [], events: [] });
    const headers = device.sign('POST', '/api/v1/reports', body, {
      now: new Date(Date.now() - 3_600_000),
    });
    const answer = await send(server.app, 'POST', '/api/v1/reports', body, headers);
    expect(answer.status).toBe(401);
    const error = answer.json() as { error: string; serverTime: string };
    expect(error.error).toBe('stale');
    expect(Math.abs(Date.parse(error.serverTime) - Date.now())).toBeLessThan(60_000);
  });

  it('an unknown device id is refused', async () => {
    const body = JSON.stringify({ schemaVersion: SCHEMA_VERSION, reports: [], events: [] });
    const headers = device.sign('POST', '/api/v1/reports', body, { keyId: randomUUID() });
    expect((await send(server.app, 'POST', '/api/v1/reports', body, headers)).json()).toMatchObject(
      { error: 'unknown-key' },
    );
  });

  it.each([
    ['malformed JSON', () => '{"schemaVersion":1,"reports":['],
    [
      'a schema violation',
      () =>
        JSON.stringify({ schemaVersion: SCHEMA_VERSION, reports: [{ id: 'nope' }], events: [] }),
    ],
    [
      'an unknown event type',
      () =>
        JSON.stringify({
          schemaVersion: SCHEMA_VERSION,
          reports: [],
          events: [{ ...usbBlocked(), type: 'usb.exploded' }],
        }),
    ],
    // Built when the test runs, so the report is newer than those posted by earlier tests.
    [
      'SQL in strings',
      () =>
        JSON.stringify({
          schemaVersion: SCHEMA_VERSION,
          reports: [
            report({ ...device.facts, hostname: "'); drop table devices; --" }, [
              result('firewall', 'pass'),
            ]),
          ].map((r) => ({
            ...r,
            results: r.results.map((x) => ({ ...x, summary: "' or 1=1 --" })),
          })),
          events: [],
        }),
    ],
  ])(
    '%s from a signed device gets a 4xx or is stored verbatim, never a 5xx',
    async (name, body) => {
      const answer = await device.signed(server.app, 'POST', '/api/v1/reports', body());
      if (name === 'SQL in strings') {
        expect(answer.status).toBe(200);
        const [row] = await server.db.query<{ hostname: string }>(
          'select hostname from devices where id = $1',
          [device.id],
        );
        expect(row?.hostname).toBe("'); drop table devices; --");
      } else {
        expect(answer.status).toBe(400);
      }
    },
  );

  it.each([
    ['a NUL character in the hostname', { hostname: 'lab\u0000pc' }, {}],
    ['a NUL character in evidence', {}, { evidence: { note: 'a\u0000b' } }],
    ['a date the database cannot hold', {}, { measuredAt: '2199-13-45T99:99:99Z' }],
  ])('%s is a 4xx, never a 5xx, and stores nothing', async (_name, facts, resultFields) => {
    const r = report({ ...device.facts, ...facts }, [
      { ...result('firewall', 'pass'), ...resultFields },
    ]);
    const answer = await device.postBatch(server.app, [r]);
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    const stored = await server.db.query('select 1 from reports where id = $1', [r.id]);
    expect(stored).toHaveLength(0);
  });

  it('an oversized body is 413', async () => {
    const body = JSON.stringify({
      schemaVersion: SCHEMA_VERSION,
      reports: [],
      events: [],
      pad: 'x'.repeat(2 * 1024 * 1024),
    });
    const answer = await device.signed(server.app, 'POST', '/api/v1/reports', body);
    expect(answer.status).toBe(413);
  });

  it.each(['text/plain', 'text/plain; charset=utf-8', 'application/octet-stream'])(
    'a correctly signed batch sent as %s is 415, not a digest mismatch, and nothing is stored',
    async (contentType) => {
      const r = report(device.facts, [result('firewall', 'pass')]);
      const body = JSON.stringify({ schemaVersion: SCHEMA_VERSION, reports: [r], events: [] });
      const answer = await device.signed(server.app, 'POST', '/api/v1/reports', body, {
        'content-type': contentType,
      });
      expect(answer.status).toBe(415);
      expect(answer.json()).toEqual({
        error: 'unsupported-media-type',
        message: 'Send the body as application/json.',
      });
      const stored = await server.db.query('select 1 from reports where id = $1', [r.id]);
      expect(stored).toHaveLength(0);
    },
  );
});
