// Check history and events past their retention are deleted; state, snapshots and the AUP
// register are not (issue 18: storage flat once the window has passed).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { purgeOldHistory } from '../../../server/store/history-retention.ts';
import { describeEachEngine } from '../../helpers/databases.ts';
import { report, result, TestDevice, usbBlocked } from '../../helpers/device-client.ts';
import { aupAccepted, documentFor } from '../../helpers/aup-sample.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';

const DAY = 86_400_000;

describeEachEngine('history retention', (engine) => {
  let server: TestServer;
  const device = new TestDevice();
  beforeAll(async () => {
    server = await startTestServer(engine);
    await device.enrol(server.app, server.token);
  });
  afterAll(() => server.close());

  const count = async (sql: string) => (await server.db.query(sql, [device.id])).length;

  it('deletes changes and events received before the window, keeping state and AUP records', async () => {
    const now = Date.now();
    const old = new Date(now - 3 * DAY);
    await device.postBatch(server.app, [
      report(device.facts, [result('firewall', 'fail', old)], old),
    ]);
    const doc = await documentFor(server.db, server.groupId, 'pupil');
    const signed = aupAccepted(doc, { user: 'pupil.one', at: old });
    await device.postBatch(
      server.app,
      [report(device.facts, [result('firewall', 'pass')])],
      [usbBlocked(), signed],
    );
    expect(await count('select 1 from check_changes where device_id = $1')).toBe(2);
    expect(await count('select 1 from events where device_id = $1')).toBe(2);
    // The first change and the event were received 40 days ago.
    await server.db.query(
      "update check_changes set recorded_at = recorded_at - interval '40 days' where device_id = $1 and to_status = 'fail'",
      [device.id],
    );
    await server.db.query(
      "update events set received_at = received_at - interval '40 days' where device_id = $1",
      [device.id],
    );
    expect(await purgeOldHistory(server.db, 30, new Date(now))).toEqual({ changes: 1, events: 1 });
    // The signature's event stays with its AUP register row.
    const events = await server.db.query<{ type: string }>(
      'select type from events where device_id = $1',
      [device.id],
    );
    expect(events).toEqual([{ type: 'aup.accepted' }]);
    expect(await count('select 1 from aup_records where device_id = $1')).toBe(1);
    const history = await server.db.query<{ to_status: string }>(
      'select to_status from check_changes where device_id = $1',
      [device.id],
    );
    expect(history).toEqual([{ to_status: 'pass' }]);
    const [state] = await server.db.query<{ status: string }>(
      "select status from check_states where device_id = $1 and check_id = 'firewall'",
      [device.id],
    );
    expect(state?.status).toBe('pass');
    // Run again: nothing more to delete.
    expect(await purgeOldHistory(server.db, 30, new Date(now))).toEqual({ changes: 0, events: 0 });
  });
});
