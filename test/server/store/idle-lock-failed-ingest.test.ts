// The server takes the agent's `idle.lock-failed` events: stored as sent (the tray's reason as
// inert text) and, since they name the console user, found by that user's subject access export
// and counted as seen by the AUP register.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SCHEMA_VERSION, type AgentEvent } from '../../../shared/index.ts';
import { personExport } from '../../../server/store/person-export.ts';
import { describeEachEngine } from '../../helpers/databases.ts';
import { TestDevice } from '../../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';

const lockFailed = (user: string | null, reason: string): AgentEvent => ({
  schemaVersion: SCHEMA_VERSION,
  id: randomUUID(),
  occurredAt: '2026-12-05T09:10:00.000Z',
  type: 'idle.lock-failed',
  data: { user, kind: 'lock-failed', reason, count: 7, firstAt: '2026-12-05T09:00:00.000Z' },
});

describeEachEngine('idle.lock-failed ingest', (engine) => {
  let server: TestServer;
  const device = new TestDevice();
  beforeAll(async () => {
    server = await startTestServer(engine);
    expect((await device.enrol(server.app, server.token)).status).toBe(201);
  });
  afterAll(() => server.close());

  it('stores the event as sent and files it under the user it names', async () => {
    const named = lockFailed('NORTHGATE\\jsmith', '<img src=x onerror=alert(1)>: exit 1');
    const nobody = lockFailed(null, 'loginctl: exit 1');
    const response = await device.postBatch(server.app, [], [named, nobody]);
    expect(response.status).toBe(200);
    const stored = await server.db.query<{ id: string; type: string; data: unknown }>(
      'select id, type, data from events where id = any($1::uuid[]) order by id',
      [[named.id, nobody.id]],
    );
    expect(stored.map((row) => [row.id, row.type, row.data]).sort()).toEqual(
      [
        [named.id, 'idle.lock-failed', named.data],
        [nobody.id, 'idle.lock-failed', nobody.data],
      ].sort(),
    );
    const found = await personExport(server.db, {
      user: 'northgate\\JSmith',
      eventsFrom: null,
      askedBy: 'dpo',
      now: new Date(Date.UTC(2026, 11, 6)),
    });
    expect(found.events.items.map((e) => e.id)).toEqual([named.id]);
    // A user at the console whose screen would not lock is a user of the school's devices: the
    // AUP register counts them as seen (outstanding until they sign).
    const seen = await server.db.query<{ user_name: string; event_type: string }>(
      "select user_name, event_type from aup_seen_users where user_key = 'northgate\\jsmith'",
    );
    expect(seen).toEqual([{ user_name: 'NORTHGATE\\jsmith', event_type: 'idle.lock-failed' }]);
  });
});
