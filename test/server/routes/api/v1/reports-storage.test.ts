// Which raw reports the server keeps (issue 18): by default only those that carry news, and
// each exactly once without a table of every report id ever received.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ComplianceReport } from '../../../../../shared/index.ts';
import { purgeOldReports } from '../../../../../server/store/ingest.ts';
import { describeEachEngine } from '../../../../helpers/databases.ts';
import { report, result, TestDevice } from '../../../../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../../../../helpers/test-server.ts';

const MINUTE = 60_000;
const DAY = 86_400_000;

describeEachEngine('raw report storage', (engine) => {
  describe('news only (the default)', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(engine);
    });
    afterAll(() => server.close());

    const enrolled = async () => {
      const device = new TestDevice();
      await device.enrol(server.app, server.token);
      return device;
    };
    const rawIds = async (deviceId: string) =>
      (
        await server.db.query<{ id: string }>(
          'select id from reports where device_id = $1 order by created_at',
          [deviceId],
        )
      ).map((row) => row.id);
    const send = async (device: TestDevice, reports: ComplianceReport[]) => {
      const answer = await device.postBatch(server.app, reports);
      expect(answer.status).toBe(200);
      return (answer.json() as { accepted: string[] }).accepted;
    };

    it('keeps a report raw only when it changes a status, the facts, the overall or the policy', async () => {
      const device = await enrolled();
      const start = Date.now() - 60 * MINUTE;
      const at = (minutes: number) => new Date(start + minutes * MINUTE);
      const checks = (minutes: number, firewall: 'pass' | 'fail' = 'pass') => [
        result('disk-encryption', 'pass', at(minutes)),
        result('firewall', firewall, at(minutes)),
      ];
      const first = report(device.facts, checks(0), at(0));
      const same = report(device.facts, checks(15), at(15));
      const failing = report(device.facts, checks(30, 'fail'), at(30));
      const sameAgain = report(device.facts, checks(45, 'fail'), at(45));
      const renamed = report(
        { ...device.facts, hostname: 'ng-lt-renamed' },
        checks(50, 'fail'),
        at(50),
      );
      const newPolicy = {
        ...report({ ...device.facts, hostname: 'ng-lt-renamed' }, checks(55, 'fail'), at(55)),
        policy: { name: 'Pupil laptops', version: 2 },
      };
      for (const r of [first, same, failing, sameAgain, renamed, newPolicy]) {
        // Every report is accepted, stored or not: the device may drop each from its outbox.
        expect(await send(device, [r])).toEqual([r.id]);
      }
      expect(await rawIds(device.id)).toEqual([first.id, failing.id, renamed.id, newPolicy.id]);
      // What was not stored raw still moved the device's state on.
      const [state] = await server.db.query<{ measured_at: Date }>(
        "select measured_at from check_states where device_id = $1 and check_id = 'firewall'",
        [device.id],
      );
      expect(state?.measured_at.toISOString()).toBe(at(55).toISOString());
    });

    it('keeps a batch’s news and only its news, an outbox emptying after a day offline', async () => {
      const device = await enrolled();
      const start = Date.now() - DAY;
      const at = (hours: number) => new Date(start + hours * 3_600_000);
      const statuses = ['pass', 'pass', 'fail', 'fail', 'fail', 'pass', 'pass'] as const;
      const batch = statuses.map((status, hour) =>
        report(device.facts, [result('antivirus', status, at(hour))], at(hour)),
      );
      expect((await send(device, [...batch].reverse())).sort()).toEqual(
        batch.map((r) => r.id).sort(),
      );
      // The three status changes, and the newest: it first gives the device an overall status.
      expect(await rawIds(device.id)).toEqual([
        batch[0]?.id,
        batch[2]?.id,
        batch[5]?.id,
        batch[6]?.id,
      ]);
    });

    it('stores nothing twice, even when the first copy was purged long ago (no receipts needed)', async () => {
      const device = await enrolled();
      const r = report(device.facts, [result('os-updates', 'fail')]);
      expect(await send(device, [r])).toEqual([r.id]);
      expect(await rawIds(device.id)).toEqual([r.id]);
      // Its raw copy passes the retention and is purged.
      await server.db.query(
        "update reports set received_at = received_at - interval '31 days' where id = $1",
        [r.id],
      );
      expect(await purgeOldReports(server.db, 30)).toBeGreaterThanOrEqual(1);
      const changes = async () =>
        (await server.db.query('select 1 from check_changes where device_id = $1', [device.id]))
          .length;
      const before = await changes();
      // The device resends it (its acknowledgement was lost): accepted, applied as a no-op.
      expect(await send(device, [r])).toEqual([r.id]);
      expect(await rawIds(device.id)).toEqual([]);
      expect(await changes()).toBe(before);
    });

    it('applies a report created before the retention window but does not keep it raw', async () => {
      const device = await enrolled();
      const old = new Date(Date.now() - 40 * DAY);
      const r = report(device.facts, [result('screen-lock', 'warn', old)], old);
      expect(await send(device, [r])).toEqual([r.id]);
      expect(await rawIds(device.id)).toEqual([]);
      const history = await server.db.query<{ to_status: string }>(
        'select to_status from check_changes where device_id = $1',
        [device.id],
      );
      expect(history).toEqual([{ to_status: 'warn' }]);
    });
  });

  describe('every report (reportStorage: all)', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(engine, { reportStorage: 'all' });
    });
    afterAll(() => server.close());

    it('keeps each report once, changed or not', async () => {
      const device = new TestDevice();
      await device.enrol(server.app, server.token);
      const start = Date.now() - 60 * MINUTE;
      const reports = [0, 15, 30].map((minutes) => {
        const at = new Date(start + minutes * MINUTE);
        return report(device.facts, [result('firewall', 'pass', at)], at);
      });
      for (const r of reports) {
        expect((await device.postBatch(server.app, [r])).status).toBe(200);
      }
      // A resend of all three.
      expect((await device.postBatch(server.app, reports)).status).toBe(200);
      const raw = await server.db.query<{ id: string }>(
        'select id from reports where device_id = $1 order by created_at',
        [device.id],
      );
      expect(raw.map((row) => row.id)).toEqual(reports.map((r) => r.id));
    });
  });
});
