// One school's page (issue 16) from real enrolments and real signed reports, on both engines:
// counts per check, stale and never-reported devices, the trend from the daily snapshots and the
// oldest failures, each exactly as seeded, and nothing of another school's.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SCHEMA_VERSION, type CheckId, type CheckStatus } from '../../../shared/index.ts';
import { takeDailySnapshot } from '../../../server/store/compliance-snapshots.ts';
import { ensureSchool } from '../../../server/store/organisation.ts';
import { schoolPage } from '../../../server/store/school-page.ts';
import { createEnrolmentToken } from '../../../server/store/tokens.ts';
import { describeEachEngine } from '../../helpers/databases.ts';
import { report, result, sampleFacts, send, TestDevice } from '../../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

type Checks = Partial<Record<CheckId, CheckStatus>>;

describeEachEngine('school page', (engine) => {
  let server: TestServer;
  /** The server's clock while seeding; real time otherwise. */
  let clock: Date | null = null;
  const now = new Date();
  const ago = (ms: number) => new Date(now.getTime() - ms);
  const devices = new Map<string, TestDevice>();
  let riversideId = '';

  /** Enrols `hostname` at `enrolledAt` with `token`. */
  async function enrol(hostname: string, token: string, enrolledAt: Date): Promise<TestDevice> {
    const device = new TestDevice(sampleFacts({ hostname }));
    clock = enrolledAt;
    expect((await device.enrol(server.app, token)).status).toBe(201);
    devices.set(hostname, device);
    return device;
  }

  /** Sends one signed report of `checks`, measured and received at `at`. */
  async function sendReport(device: TestDevice, at: Date, checks: Checks): Promise<void> {
    clock = at;
    const results = Object.entries(checks).map(([id, status]) => result(id as CheckId, status, at));
    const body = JSON.stringify({
      schemaVersion: SCHEMA_VERSION,
      reports: [report(device.facts, results, at)],
      events: [],
    });
    const url = '/api/v1/reports';
    const answer = await send(
      server.app,
      'POST',
      url,
      body,
      device.sign('POST', url, body, { now: at }),
    );
    expect(answer.status).toBe(200);
  }

  beforeAll(async () => {
    server = await startTestServer(engine, {}, () => clock ?? new Date());
    const riverside = await ensureSchool(server.db, 'Riverside Academy');
    riversideId = riverside.id;
    const riversideToken = await createEnrolmentToken(server.db, {
      schoolId: riverside.id,
      groupId: server.groupId,
      label: 'riverside',
      expiresAt: new Date(now.getTime() + DAY),
      maxUses: 10,
      createdBy: null,
    });
    const month = ago(30 * DAY);
    // Failing disk encryption for 10 days: still failing in the latest report.
    const a1 = await enrol('ng-001', server.token, month);
    await sendReport(a1, ago(10 * DAY), { 'disk-encryption': 'fail', antivirus: 'pass' });
    await sendReport(a1, ago(HOUR), { 'disk-encryption': 'fail', antivirus: 'pass' });
    // Anti-virus failing for 3 days, after passing before.
    const a2 = await enrol('ng-002', server.token, month);
    await sendReport(a2, ago(5 * DAY), { 'disk-encryption': 'pass', antivirus: 'pass' });
    await sendReport(a2, ago(3 * DAY), { 'disk-encryption': 'pass', antivirus: 'fail' });
    await sendReport(a2, ago(2 * HOUR), { 'disk-encryption': 'pass', antivirus: 'fail' });
    // Passing, but silent for 9 days: stale.
    const a3 = await enrol('ng-003', server.token, month);
    await sendReport(a3, ago(9 * DAY), { 'disk-encryption': 'pass', antivirus: 'pass' });
    // Enrolled 20 days ago and never reported: stale and never reported.
    await enrol('ng-004', server.token, ago(20 * DAY));
    // Enrolled yesterday, no report yet: never reported, not stale.
    await enrol('ng-005', server.token, ago(DAY));
    // A warning, reported an hour ago.
    const a6 = await enrol('ng-006', server.token, month);
    await sendReport(a6, ago(HOUR), { 'disk-encryption': 'pass', antivirus: 'warn' });
    // Another school's devices: failing longer than any, silent, never reported. None of it shows.
    const b1 = await enrol('rv-001', riversideToken.token, ago(40 * DAY));
    await sendReport(b1, ago(20 * DAY), { 'disk-encryption': 'fail', firewall: 'fail' });
    await enrol('rv-002', riversideToken.token, ago(40 * DAY));
    // Two days of snapshots of every school.
    clock = null;
    await takeDailySnapshot(server.db, ago(DAY));
    await takeDailySnapshot(server.db, now);
  });
  afterAll(() => server.close());

  const idOf = (hostname: string) => devices.get(hostname)?.id ?? '';
  const day = (at: Date) => at.toISOString().slice(0, 10);

  it('counts the school’s devices overall and per check, with never-reported devices as none', async () => {
    const page = await schoolPage(server.db, server.schoolId, 7, now);
    expect(page?.school).toEqual({ id: server.schoolId, name: 'Northgate Primary' });
    expect(page?.generatedAt).toBe(now.toISOString());
    expect(page?.devices).toBe(6);
    expect(page?.overall).toEqual({ pass: 1, fail: 2, warn: 1, unknown: 0, none: 2 });
    expect(page?.byCheck).toEqual([
      { checkId: 'antivirus', counts: { pass: 2, fail: 1, warn: 1, unknown: 0, none: 2 } },
      { checkId: 'disk-encryption', counts: { pass: 3, fail: 1, warn: 0, unknown: 0, none: 2 } },
    ]);
  });

  it('lists stale and never-reported devices, longest silent first, with last contact', async () => {
    const page = await schoolPage(server.db, server.schoolId, 7, now);
    expect(page?.staleDays).toBe(7);
    expect(page?.stale).toBe(2);
    expect(page?.neverReported).toBe(2);
    expect(page?.quiet).toEqual([
      {
        id: idOf('ng-004'),
        hostname: 'ng-004',
        group: 'Pupil laptops',
        enrolledAt: ago(20 * DAY).toISOString(),
        lastSeenAt: null,
        stale: true,
        neverReported: true,
      },
      {
        id: idOf('ng-003'),
        hostname: 'ng-003',
        group: 'Pupil laptops',
        enrolledAt: ago(30 * DAY).toISOString(),
        lastSeenAt: ago(9 * DAY).toISOString(),
        stale: true,
        neverReported: false,
      },
      {
        id: idOf('ng-005'),
        hostname: 'ng-005',
        group: 'Pupil laptops',
        enrolledAt: ago(DAY).toISOString(),
        lastSeenAt: null,
        stale: false,
        neverReported: true,
      },
    ]);
    // A longer threshold: ng-003 (9 days) is no longer stale, so it leaves the list.
    const lenient = await schoolPage(server.db, server.schoolId, 10, now);
    expect(lenient?.stale).toBe(1);
    expect(lenient?.quiet.map((d) => d.hostname)).toEqual(['ng-004', 'ng-005']);
  });

  it('gives the oldest current failures from the history of changes, this school’s only', async () => {
    const page = await schoolPage(server.db, server.schoolId, 7, now);
    expect(page?.failures.total).toBe(2);
    expect(page?.failures.items.map((i) => ({ hostname: i.hostname, failing: i.failing }))).toEqual(
      [
        {
          hostname: 'ng-001',
          failing: [{ checkId: 'disk-encryption', since: ago(10 * DAY).toISOString() }],
        },
        {
          hostname: 'ng-002',
          failing: [{ checkId: 'antivirus', since: ago(3 * DAY).toISOString() }],
        },
      ],
    );
    expect(page?.failures.items[0]?.lastSeenAt).toBe(ago(HOUR).toISOString());
  });

  it('gives the school’s daily snapshots as its trend', async () => {
    const page = await schoolPage(server.db, server.schoolId, 7, now);
    const counts = { pass: 1, fail: 2, warn: 1, unknown: 0, none: 2 };
    expect(page?.trend).toEqual({
      scope: 'school',
      id: server.schoolId,
      days: [
        { day: day(ago(DAY)), counts },
        { day: day(now), counts },
      ],
    });
    const riverside = await schoolPage(server.db, riversideId, 7, now);
    expect(riverside?.trend.days.map((d) => d.counts)).toEqual([
      { pass: 0, fail: 1, warn: 0, unknown: 0, none: 1 },
      { pass: 0, fail: 1, warn: 0, unknown: 0, none: 1 },
    ]);
  });

  it('keeps each school to its own devices', async () => {
    const riverside = await schoolPage(server.db, riversideId, 7, now);
    expect(riverside?.devices).toBe(2);
    expect(riverside?.byCheck).toEqual([
      { checkId: 'disk-encryption', counts: { pass: 0, fail: 1, warn: 0, unknown: 0, none: 1 } },
      { checkId: 'firewall', counts: { pass: 0, fail: 1, warn: 0, unknown: 0, none: 1 } },
    ]);
    expect(riverside?.failures.items.map((i) => i.hostname)).toEqual(['rv-001']);
    expect(riverside?.quiet.map((d) => d.hostname)).toEqual(['rv-002', 'rv-001']);
  });

  it('is null for a school that does not exist', async () => {
    expect(await schoolPage(server.db, '00000000-0000-4000-8000-000000000000', 7, now)).toBeNull();
  });
});
