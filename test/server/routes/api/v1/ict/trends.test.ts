// Daily compliance snapshots and the trends read from them: one snapshot a UTC day however many
// instances run the job at once, kept for over a year, read back per trust, school and check.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Trend } from '../../../../../../shared/index.ts';
import { openDatabase } from '../../../../../../server/db/open-database.ts';
import {
  SNAPSHOT_RETENTION_DAYS,
  takeDailySnapshot,
} from '../../../../../../server/store/compliance-snapshots.ts';
import { describeEachEngine } from '../../../../../helpers/databases.ts';
import { report, result, sampleFacts, TestDevice } from '../../../../../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../../../../../helpers/test-server.ts';
import { newBrowser, type Browser } from './ict-session.ts';

const DAY = 86_400_000;

describeEachEngine('compliance snapshots and trends', (engine) => {
  let server: TestServer;
  let viewer: Browser;
  const devices: TestDevice[] = [];

  const get = async (url: string) => viewer.request({ method: 'GET', url: `/api/v1/ict${url}` });

  const sendStatus = async (device: TestDevice, status: 'pass' | 'fail') => {
    const at = new Date();
    const answer = await device.postBatch(
      server.app,
      [report(device.facts, [result('disk-encryption', status, at)], at)],
      [],
    );
    expect(answer.status).toBe(200);
  };

  beforeAll(async () => {
    server = await startTestServer(engine);
    viewer = await newBrowser(server.app, server.db, 'vic', 'viewer');
    for (const hostname of ['one', 'two', 'three']) {
      const device = new TestDevice(sampleFacts({ hostname }));
      expect((await device.enrol(server.app, server.token)).status).toBe(201);
      devices.push(device);
    }
  });
  afterAll(() => server.close());

  it('takes one snapshot a day, whoever runs the job and however often', async () => {
    const [one, two] = devices;
    if (one === undefined || two === undefined) {
      throw new Error('no devices');
    }
    await sendStatus(one, 'fail');
    await sendStatus(two, 'pass');
    // Noon of the day before yesterday (UTC): an hour later is still the same day, whatever the
    // time the suite runs (run just before midnight, "now − 2 days + 1 hour" was the next day).
    const dayOne = new Date(Math.floor(Date.now() / DAY) * DAY - 2 * DAY + DAY / 2);
    // Several instances at once: each its own connection pool on PostgreSQL, one handle on PGlite
    // (in-process, so "instances" share it).
    const others =
      server.db.url === null
        ? []
        : await Promise.all(
            [1, 2].map(() => openDatabase({ kind: 'postgresql', url: server.db.url ?? '' })),
          );
    try {
      const written = await Promise.all(
        [server.db, server.db, ...others].map((db) => takeDailySnapshot(db, dayOne)),
      );
      // trust + one school + one check = 3 rows, written once.
      expect(written.sort()).toEqual([0, ...others.map(() => 0), 3]);
    } finally {
      await Promise.all(others.map((db) => db.close()));
    }
    expect(await takeDailySnapshot(server.db, new Date(dayOne.getTime() + 3_600_000))).toBe(0);

    // The next day the failing device is fixed.
    await sendStatus(one, 'pass');
    expect(await takeDailySnapshot(server.db, new Date(dayOne.getTime() + DAY))).toBe(3);

    const trust = (await get('/trends?scope=trust')).json<Trend>();
    expect(trust.days).toEqual([
      {
        day: dayOne.toISOString().slice(0, 10),
        counts: { pass: 1, fail: 1, warn: 0, unknown: 0, none: 1 },
      },
      {
        day: new Date(dayOne.getTime() + DAY).toISOString().slice(0, 10),
        counts: { pass: 2, fail: 0, warn: 0, unknown: 0, none: 1 },
      },
    ]);
    const school = (await get(`/trends?scope=school&id=${server.schoolId}`)).json<Trend>();
    expect(school.days.map((d) => d.counts.pass)).toEqual([1, 2]);
    const check = (await get('/trends?scope=check&id=disk-encryption')).json<Trend>();
    expect(check.days.map((d) => d.counts.fail)).toEqual([1, 0]);
    // A window of one day holds today only: none taken yet.
    expect((await get('/trends?scope=trust&days=1')).json<Trend>().days).toEqual([]);
  });

  it('keeps more than 13 months of days and prunes beyond the retention', async () => {
    const now = new Date();
    const day = (daysAgo: number) =>
      new Date(now.getTime() - daysAgo * DAY).toISOString().slice(0, 10);
    for (const daysAgo of [400, SNAPSHOT_RETENTION_DAYS - 1, SNAPSHOT_RETENTION_DAYS + 5]) {
      await server.db.query(
        `insert into compliance_snapshots (scope, scope_id, day, pass, fail, warn, unknown, none)
         values ('trust', '', $1, 1, 0, 0, 0, 0)`,
        [day(daysAgo)],
      );
    }
    expect(await takeDailySnapshot(server.db, now)).toBe(3);
    const kept = await server.db.query<{ day: string }>(
      `select to_char(day, 'YYYY-MM-DD') as day from compliance_snapshots
        where scope = 'trust' order by day`,
    );
    const days = kept.map((r) => r.day);
    expect(days).toContain(day(400));
    expect(days).toContain(day(SNAPSHOT_RETENTION_DAYS - 1));
    expect(days).not.toContain(day(SNAPSHOT_RETENTION_DAYS + 5));
    const year = (await get('/trends?scope=trust&days=800')).json<Trend>();
    expect(year.days[0]?.day).toBe(day(SNAPSHOT_RETENTION_DAYS - 1));
  });

  it.each([
    ['/trends?scope=school', 'A school trend needs the school’s id.'],
    ['/trends?scope=school&id=not-a-uuid', 'A school trend needs the school’s id.'],
    ['/trends?scope=check&id=bogus', 'A check trend needs a check id.'],
    ['/trends?scope=trust&id=x', 'The trust trend takes no id.'],
  ])('refuses %s in plain words', async (url, message) => {
    const response = await get(url);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: 'invalid-request', message });
  });
});
