import { afterAll, beforeAll, expect, it } from 'vitest';
import type {
  ChaseList,
  ComplianceSummary,
  DeviceDetail,
  DeviceList,
  StoredEvent,
} from '../../../../../../shared/index.ts';
import { describeEachEngine } from '../../../../../helpers/databases.ts';
import {
  report,
  result,
  sampleFacts,
  TestDevice,
  usbBlocked,
} from '../../../../../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../../../../../helpers/test-server.ts';
import { newBrowser, type Browser } from './ict-session.ts';

const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000);

describeEachEngine('ICT read API', (engine) => {
  let server: TestServer;
  let viewer: Browser;
  let southfield: { id: string; name: string };
  const devices: Record<string, TestDevice> = {};
  const lastReport: Record<string, string> = {};
  const get = async <T>(url: string): Promise<T> => {
    const response = await viewer.request({ method: 'GET', url: `/api/v1/ict${url}` });
    expect(response.statusCode, `${url}: ${response.body}`).toBe(200);
    return response.json<T>();
  };
  const hostnames = (list: DeviceList) => list.items.map((i) => i.hostname);

  beforeAll(async () => {
    server = await startTestServer(engine);
    const admin = await newBrowser(server.app, server.db, 'ada', 'admin');
    viewer = await newBrowser(server.app, server.db, 'vic', 'viewer');
    // A second school, made and given a token through the admin API, named with SQL in it.
    southfield = (
      await admin.request({
        method: 'POST',
        url: '/api/v1/ict/schools',
        payload: { name: "Southfield's <b>Academy</b>; drop table devices; --" },
      })
    ).json();
    const southToken = (
      await admin.request({
        method: 'POST',
        url: '/api/v1/ict/tokens',
        payload: {
          schoolId: southfield.id,
          groupId: server.groupId,
          label: 'south',
          expiresInDays: 1,
          maxUses: 10,
        },
      })
    ).json<{ token: string }>().token;

    const enrol = async (
      name: string,
      hostname: string,
      token = server.token,
      serial = `SN-${name}`,
    ) => {
      const device = new TestDevice(sampleFacts({ hostname, serial }));
      expect((await device.enrol(server.app, token)).status).toBe(201);
      devices[name] = device;
      return device;
    };
    const send = async (
      name: string,
      results: ReturnType<typeof result>[],
      at: Date,
      events = [] as ReturnType<typeof usbBlocked>[],
    ) => {
      const device = devices[name];
      if (device === undefined) {
        throw new Error(name);
      }
      const answer = await device.postBatch(
        server.app,
        [report(device.facts, results, at)],
        events,
      );
      expect(answer.status).toBe(200);
      lastReport[name] = at.toISOString();
    };

    // alpha: disk encryption went fail → pass; antivirus fails; two USB sticks blocked.
    await enrol('alpha', 'alpha-01');
    await send(
      'alpha',
      [result('disk-encryption', 'fail', ago(30)), result('antivirus', 'pass', ago(30))],
      ago(30),
    );
    await send(
      'alpha',
      [
        result('disk-encryption', 'pass', ago(10)),
        result('antivirus', 'fail', ago(10)),
        result('firewall', 'pass', ago(10)),
      ],
      ago(10),
      [usbBlocked(ago(12)), usbBlocked(ago(11))],
    );
    // bravo: all pass.
    await enrol('bravo', 'bravo-02');
    await send(
      'bravo',
      [result('disk-encryption', 'pass'), result('antivirus', 'pass'), result('firewall', 'pass')],
      ago(5),
    );
    // A hostname and serial that a spreadsheet would run as formulas, with a quote and a comma.
    await enrol('formula', '=HYPERLINK("http://evil.example","x")', server.token, '+SUM(A1:A9)');
    await send('formula', [result('os-updates', 'warn'), result('antivirus', 'pass')], ago(5));
    // delta: in Southfield, enrolled 20 days ago and never reported; its name holds LIKE wildcards.
    await enrol('delta', 'delta_04%', southToken, '@serial');
    await server.db.query(
      `update devices set enrolled_at = now() - interval '20 days' where id = $1`,
      [devices.delta?.id],
    );
    // echo: reported unknown long ago (silent since).
    await enrol('echo', 'echo-05');
    await send('echo', [result('disk-encryption', 'unknown')], ago(60));
    await server.db.query(
      `update devices set last_seen_at = now() - interval '10 days' where id = $1`,
      [devices.echo?.id],
    );
    // foxtrot: re-enrolled (proved by its old key) after reporting: the old record is retired.
    const old = await enrol('oldFoxtrot', 'foxtrot-06');
    await send('oldFoxtrot', [result('disk-encryption', 'fail')], ago(20));
    const replacement = new TestDevice(old.facts);
    expect((await replacement.replace(server.app, old)).status).toBe(201);
    devices.foxtrot = replacement;
    await send('foxtrot', [result('disk-encryption', 'pass')], ago(2));
  });
  afterAll(() => server.close());

  it('GET /summary counts what the devices reported; retired devices are left out', async () => {
    const summary = await get<ComplianceSummary>('/summary');
    expect(summary.devices).toBe(6);
    expect(summary.overall).toEqual({ pass: 2, fail: 1, warn: 1, unknown: 1, none: 1 });
    expect(summary.staleDays).toBe(7);
    // echo (last seen 10 days ago) and delta (never seen, enrolled 20 days ago).
    expect(summary.stale).toBe(2);
    const byCheck = Object.fromEntries(summary.byCheck.map((c) => [c.checkId, c.counts]));
    expect(byCheck).toEqual({
      antivirus: { pass: 2, fail: 1, warn: 0, unknown: 0, none: 3 },
      'disk-encryption': { pass: 3, fail: 0, warn: 0, unknown: 1, none: 2 },
      firewall: { pass: 2, fail: 0, warn: 0, unknown: 0, none: 4 },
      'os-updates': { pass: 0, fail: 0, warn: 1, unknown: 0, none: 5 },
    });
    const bySchool = Object.fromEntries(summary.bySchool.map((s) => [s.school, s.counts]));
    expect(bySchool).toEqual({
      'Northgate Primary': { pass: 2, fail: 1, warn: 1, unknown: 1, none: 0 },
      [southfield.name]: { pass: 0, fail: 0, warn: 0, unknown: 0, none: 1 },
    });
    expect(summary.bySchool.find((s) => s.school === southfield.name)?.schoolId).toBe(
      southfield.id,
    );
    // Stale per school and per group: echo in Northgate, delta (never reported) in Southfield.
    const staleBySchool = Object.fromEntries(summary.bySchool.map((s) => [s.school, s.stale]));
    expect(staleBySchool).toEqual({ 'Northgate Primary': 1, [southfield.name]: 1 });
    expect(summary.byGroup).toEqual([
      {
        groupId: server.groupId,
        group: 'Pupil laptops',
        counts: { pass: 2, fail: 1, warn: 1, unknown: 1, none: 1 },
        stale: 2,
      },
    ]);
    // Silence counts from the last contact, or from enrolment for a device that never reported.
    const wide = await get<ComplianceSummary>('/summary?staleDays=15');
    expect(wide.stale).toBe(1);
    expect((await get<ComplianceSummary>('/summary?staleDays=30')).stale).toBe(0);
  });

  it('GET /chase-list lists failing devices with since, last user and contact', async () => {
    const list = await get<ChaseList>('/chase-list');
    // alpha's antivirus fails; the retired foxtrot's old failure is not chased.
    expect(list.total).toBe(1);
    expect(list.items.map((i) => i.hostname)).toEqual(['alpha-01']);
    const alpha = list.items[0];
    expect(alpha?.failing.map((f) => f.checkId)).toEqual(['antivirus']);
    // Failing since the report that turned it to fail (10 minutes ago), not the first report.
    const since = Date.parse(alpha?.failing[0]?.since ?? '');
    expect(Math.abs(since - Date.parse(lastReport.alpha ?? ''))).toBeLessThan(60_000);
    expect(alpha?.checks.map((c) => `${c.checkId}:${c.status}`)).toEqual([
      'antivirus:fail',
      'disk-encryption:pass',
      'firewall:pass',
    ]);
    expect(alpha?.lastUser).toBe('j.smith');
    expect(alpha?.lastSeenAt).not.toBeNull();
    expect((await get<ChaseList>(`/chase-list?schoolId=${southfield.id}`)).items).toEqual([]);
  });

  it('GET /devices lists active devices by hostname with the total', async () => {
    const all = await get<DeviceList>('/devices');
    expect(all.total).toBe(6);
    expect(hostnames(all)).toEqual([
      '=HYPERLINK("http://evil.example","x")',
      'alpha-01',
      'bravo-02',
      'delta_04%',
      'echo-05',
      'foxtrot-06',
    ]);
    const alpha = all.items.find((i) => i.hostname === 'alpha-01');
    expect(alpha).toMatchObject({
      id: devices.alpha?.id,
      serial: 'SN-alpha',
      os: 'Microsoft Windows 11 Education',
      school: 'Northgate Primary',
      group: 'Pupil laptops',
      overall: 'fail',
      cloneSuspect: false,
    });
    expect(alpha?.lastReportAt).toBe(lastReport.alpha);
    const delta = all.items.find((i) => i.hostname === 'delta_04%');
    expect(delta).toMatchObject({
      overall: null,
      lastSeenAt: null,
      lastReportAt: null,
      school: southfield.name,
    });
    const page = await get<DeviceList>('/devices?limit=2&offset=1');
    expect(page.total).toBe(6);
    expect(hostnames(page)).toEqual(['alpha-01', 'bravo-02']);
  });

  it('GET /devices pages by keyset cursor, forwards and backwards, with the total each time', async () => {
    const all = hostnames(await get<DeviceList>('/devices'));
    // Forwards two at a time from the start, each page after the last id of the one before.
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await get<DeviceList>(`/devices?limit=2${after ? `&after=${after}` : ''}`);
      expect(page.total).toBe(6);
      if (page.items.length === 0) {
        break;
      }
      seen.push(...hostnames(page));
      after = page.items.at(-1)?.id;
    }
    expect(seen).toEqual(all);
    // Backwards from the last device: the two before it, in hostname order.
    const before = await get<DeviceList>(`/devices?limit=2&before=${devices.foxtrot?.id ?? ''}`);
    expect(hostnames(before)).toEqual(['delta_04%', 'echo-05']);
    expect(before.total).toBe(6);
    const first = await get<DeviceList>(`/devices?limit=2&before=${devices.bravo?.id ?? ''}`);
    expect(hostnames(first)).toEqual(['=HYPERLINK("http://evil.example","x")', 'alpha-01']);
    // A cursor device need not match the filters: it only marks a place in hostname order.
    const passing = await get<DeviceList>(`/devices?status=pass&after=${devices.alpha?.id ?? ''}`);
    expect(hostnames(passing)).toEqual(['bravo-02', 'foxtrot-06']);
    // An unknown cursor is an empty page; the total still counts every match.
    const unknown = await get<DeviceList>('/devices?after=00000000-0000-4000-8000-000000000000');
    expect(unknown).toEqual({ total: 6, items: [] });
  });

  it('GET /devices with checkId and status=none pages and counts in one go', async () => {
    const query = 'checkId=firewall&status=none&limit=2';
    const first = await get<DeviceList>(`/devices?${query}`);
    expect(hostnames(first)).toEqual(['=HYPERLINK("http://evil.example","x")', 'delta_04%']);
    expect(first.total).toBe(4);
    const next = await get<DeviceList>(`/devices?${query}&after=${first.items[1]?.id ?? ''}`);
    expect(hostnames(next)).toEqual(['echo-05', 'foxtrot-06']);
    const back = await get<DeviceList>(`/devices?${query}&before=${next.items[0]?.id ?? ''}`);
    expect(hostnames(back)).toEqual(hostnames(first));
    expect(await get<DeviceList>(`/devices?${query}&offset=3`)).toMatchObject({
      total: 4,
      items: [{ hostname: 'foxtrot-06' }],
    });
    // Past the end: no rows, and still the total.
    const past = await get<DeviceList>(`/devices?${query}&after=${next.items[1]?.id ?? ''}`);
    expect(past).toEqual({ total: 4, items: [] });
  });

  it.each([
    ['status=fail', ['alpha-01']],
    ['status=pass', ['bravo-02', 'foxtrot-06']],
    ['status=none', ['delta_04%']],
    ['status=pass&checkId=antivirus', ['=HYPERLINK("http://evil.example","x")', 'bravo-02']],
    ['status=fail&checkId=antivirus', ['alpha-01']],
    [
      'status=none&checkId=firewall',
      ['=HYPERLINK("http://evil.example","x")', 'delta_04%', 'echo-05', 'foxtrot-06'],
    ],
    ['status=unknown&checkId=disk-encryption', ['echo-05']],
    ['silentDays=3', ['delta_04%', 'echo-05']],
    ['search=ALPHA', ['alpha-01']],
    ['search=sn-bra', ['bravo-02']],
    ['search=%25', ['delta_04%']],
    ['search=_', ['delta_04%']],
    ['search=%5C', []],
    ['search=%27%3B%20drop%20table%20devices%3B%20--', []],
    ['search=%3DHYPER', ['=HYPERLINK("http://evil.example","x")']],
  ])('GET /devices?%s', async (query, expected) => {
    const list = await get<DeviceList>(`/devices?${query}`);
    expect(hostnames(list)).toEqual(expected);
    expect(list.total).toBe(expected.length);
  });

  it('filters by school and group', async () => {
    expect(hostnames(await get<DeviceList>(`/devices?schoolId=${southfield.id}`))).toEqual([
      'delta_04%',
    ]);
    expect((await get<DeviceList>(`/devices?groupId=${server.groupId}`)).total).toBe(6);
    expect(
      (await get<DeviceList>('/devices?groupId=00000000-0000-4000-8000-000000000000')).total,
    ).toBe(0);
  });

  it('GET /devices.csv: same filters, RFC 4180 quoting, formulas neutralised', async () => {
    const response = await viewer.request({
      method: 'GET',
      url: '/api/v1/ict/devices.csv?limit=1',
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(response.headers['content-disposition']).toBe(
      'attachment; filename="hallpass-devices.csv"',
    );
    const lines = response.body.split('\r\n');
    expect(lines[0]).toBe(
      'id,hostname,serial,os,school,group,overall,lastSeenAt,lastReportAt,cloneSuspect',
    );
    // limit is ignored: every device, then the final CRLF.
    expect(lines).toHaveLength(1 + 6 + 1);
    expect(lines.at(-1)).toBe('');
    const formula = lines.find((l) => l.includes('HYPERLINK')) ?? '';
    expect(
      formula.startsWith(
        `${devices.formula?.id ?? ''},"'=HYPERLINK(""http://evil.example"",""x"")",'+SUM(A1:A9),`,
      ),
    ).toBe(true);
    const delta = lines.find((l) => l.includes('delta_04%')) ?? '';
    expect(delta).toBe(
      `${devices.delta?.id ?? ''},delta_04%,'@serial,Microsoft Windows 11 Education,Southfield's <b>Academy</b>; drop table devices; --,Pupil laptops,,,,false`,
    );
    const filtered = await viewer.request({
      method: 'GET',
      url: '/api/v1/ict/devices.csv?status=fail',
    });
    expect(filtered.body.split('\r\n').filter((l) => l !== '')).toHaveLength(2);
  });

  it('GET /devices/:id: latest states, history of changes and events', async () => {
    const detail = await get<DeviceDetail>(`/devices/${devices.alpha?.id ?? ''}`);
    expect(detail.device.hostname).toBe('alpha-01');
    expect(detail.facts).toEqual(devices.alpha?.facts);
    expect(detail.policyVersion).toBe(1);
    expect(detail.checks.map((c) => [c.checkId, c.status])).toEqual([
      ['antivirus', 'fail'],
      ['disk-encryption', 'pass'],
      ['firewall', 'pass'],
    ]);
    const disk = detail.checks.find((c) => c.checkId === 'disk-encryption');
    expect(disk).toMatchObject({
      summary: 'disk-encryption is pass',
      evidence: { sample: true },
      remediation: null,
    });
    expect(detail.history.map((h) => [h.checkId, h.from, h.to])).toEqual(
      expect.arrayContaining([
        ['disk-encryption', null, 'fail'],
        ['disk-encryption', 'fail', 'pass'],
        ['antivirus', null, 'pass'],
        ['antivirus', 'pass', 'fail'],
        ['firewall', null, 'pass'],
      ]),
    );
    expect(detail.history).toHaveLength(5);
    // Newest first.
    expect(detail.history[0]?.measuredAt).toBe(detail.checks[0]?.measuredAt);
    expect(detail.events.map((e) => e.type)).toEqual(['usb.blocked', 'usb.blocked']);
    expect((detail.events[0]?.occurredAt ?? '') > (detail.events[1]?.occurredAt ?? '')).toBe(true);
    expect(detail.events[0]?.data).toMatchObject({ user: 'j.smith' });
  });

  it('a retired device stays readable; an unknown id is 404; a malformed id is 400', async () => {
    const retired = await get<DeviceDetail>(`/devices/${devices.oldFoxtrot?.id ?? ''}`);
    expect(retired.checks.map((c) => c.status)).toEqual(['fail']);
    const unknown = await viewer.request({
      method: 'GET',
      url: '/api/v1/ict/devices/00000000-0000-4000-8000-000000000000',
    });
    expect(unknown.statusCode).toBe(404);
    for (const id of [
      'not-a-uuid',
      "1'%20or%20'1'='1",
      '00000000-0000-4000-8000-00000000000g',
      '%00',
    ]) {
      const response = await viewer.request({ method: 'GET', url: `/api/v1/ict/devices/${id}` });
      expect(response.statusCode, id).toBe(400);
    }
  });

  it('GET /events filters by device and type, newest first', async () => {
    // Two USB events, and foxtrot's replacement, which the server records on both records.
    const all = await get<{ total: number; items: StoredEvent[] }>('/events');
    expect(all.total).toBe(4);
    expect(all.items.map((e) => e.type).sort()).toEqual([
      'device.replaced',
      'device.replacement',
      'usb.blocked',
      'usb.blocked',
    ]);
    const usb = await get<{ total: number; items: StoredEvent[] }>('/events?type=usb.blocked');
    expect(usb.items[0]).toMatchObject({
      deviceId: devices.alpha?.id,
      hostname: 'alpha-01',
      type: 'usb.blocked',
    });
    expect(
      (await get<{ total: number }>(`/events?deviceId=${devices.alpha?.id ?? ''}`)).total,
    ).toBe(2);
    expect(
      (await get<{ total: number }>(`/events?deviceId=${devices.bravo?.id ?? ''}`)).total,
    ).toBe(0);
    expect((await get<{ total: number }>('/events?type=usb.blocked&limit=1')).total).toBe(2);
    expect(
      (await get<{ items: unknown[] }>('/events?type=usb.blocked&limit=1')).items,
    ).toHaveLength(1);
    expect((await get<{ total: number }>('/events?type=%27%20or%20%271%27%3D%271')).total).toBe(0);
  });

  it('GET /schools and /groups list them by name', async () => {
    expect(await get('/schools')).toEqual([
      { id: server.schoolId, name: 'Northgate Primary' },
      southfield,
    ]);
    expect(await get('/groups')).toEqual([{ id: server.groupId, name: 'Pupil laptops' }]);
  });

  it.each([
    '/devices?limit=0',
    '/devices?limit=1001',
    '/devices?limit=abc',
    '/devices?limit=1&limit=2',
    '/devices?offset=-1',
    '/devices?after=42',
    '/devices?before=00000000-0000-4000-8000-00000000000g',
    '/devices?after=00000000-0000-4000-8000-000000000000&before=00000000-0000-4000-8000-000000000000',
    '/devices?after=00000000-0000-4000-8000-000000000000&offset=1',
    '/devices?before=00000000-0000-4000-8000-000000000000&offset=1',
    '/devices?status=broken',
    '/devices?status=',
    '/devices?checkId=nope&status=pass',
    '/devices?schoolId=42',
    "/devices?groupId=x'--",
    '/devices?silentDays=0',
    '/devices?silentDays=x',
    `/devices?search=${'x'.repeat(101)}`,
    '/devices?search=a%00b',
    '/devices?unknown=1',
    '/devices.csv?status=broken',
    '/summary?staleDays=0',
    '/summary?staleDays=seven',
    '/events?deviceId=nope',
    '/events?limit=100000',
    '/events?type=',
    '/events?type=%00',
  ])('GET %s is 400, not 500', async (url) => {
    const response = await viewer.request({ method: 'GET', url: `/api/v1/ict${url}` });
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json()).toMatchObject({ error: 'invalid-request' });
  });
});
