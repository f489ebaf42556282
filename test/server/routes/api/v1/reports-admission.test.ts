// Admission on the real route: a busy instance queues batches for a place instead of refusing
// them, and what it refuses carries a Retry-After of whole seconds from its own drain estimate.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEachEngine, testEngines } from '../../../../helpers/databases.ts';
import { report, result, send, TestDevice } from '../../../../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../../../../helpers/test-server.ts';

describeEachEngine('POST /api/v1/reports under load', (engine) => {
  let queueing: TestServer;
  let refusing: TestServer;
  const devices = Array.from({ length: 8 }, () => new TestDevice());
  beforeAll(async () => {
    // One batch at a time: every other concurrent batch must wait for the place.
    queueing = await startTestServer(engine, { ingestConcurrency: 1, ingestQueueLength: 100 });
    refusing = await startTestServer(engine, { ingestConcurrency: 1, ingestQueueLength: 0 });
    for (const device of devices) {
      await device.enrol(queueing.app, queueing.token);
    }
  });
  afterAll(async () => {
    await queueing.close();
    await refusing.close();
  });

  it('queues concurrent batches beyond the limit and stores them all', async () => {
    const answers = await Promise.all(
      devices.map((d) =>
        d.postBatch(queueing.app, [report(d.facts, [result('firewall', 'pass')])]),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(devices.map(() => 200));
    const stored = await queueing.db.query('select 1 from reports');
    expect(stored.length).toBe(devices.length);
  });

  it('refuses with a short Retry-After in whole seconds when nothing may wait', async () => {
    const mine = Array.from({ length: 8 }, () => new TestDevice());
    for (const device of mine) {
      await device.enrol(refusing.app, refusing.token);
    }
    const answers = await Promise.all(
      mine.map((d) => d.postBatch(refusing.app, [report(d.facts, [result('firewall', 'pass')])])),
    );
    for (const answer of answers) {
      expect([200, 429]).toContain(answer.status);
      if (answer.status === 429) {
        // At most one slot per batch ahead of it, at a guessed one batch a second.
        expect(answer.headers['retry-after']).toMatch(/^[1-8]$/);
      }
    }
    expect(answers.some((a) => a.status === 200)).toBe(true);
  });
});

// A batch held in its place by a row lock in PostgreSQL (PGlite has one connection: a lock there
// would hold the request before it reaches a place, in the signature check's key lookup).
describe.each(testEngines.filter((e) => e.name === 'postgresql'))(
  'POST /api/v1/reports while every place is taken, on $name',
  (engine) => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(engine, { ingestConcurrency: 1, ingestQueueLength: 0 });
    });
    afterAll(async () => {
      await server.close();
    });

    it('refuses before reading the body: a 429 with Retry-After, not a verdict on the body', async () => {
      const holder = new TestDevice();
      await holder.enrol(server.app, server.token);
      const lock = new pg.Client({ connectionString: server.db.url ?? '' });
      await lock.connect();
      try {
        await lock.query('begin');
        await lock.query('select 1 from devices where id = $1 for no key update', [holder.id]);
        const held = holder.postBatch(server.app, [
          report(holder.facts, [result('firewall', 'pass')]),
        ]);
        // Wait until the held batch is in its place, blocked on the lock.
        for (;;) {
          const waiting = await lock.query(
            "select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()",
          );
          if ((waiting.rows[0] as { n: number }).n > 0) {
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        // Neither JSON nor signed: read and checked, it would get 400 or 401.
        const answer = await send(server.app, 'POST', '/api/v1/reports', 'not json {', {});
        expect(answer.status).toBe(429);
        expect(answer.headers['retry-after']).toMatch(/^[1-9][0-9]*$/);
        expect(answer.json()).toMatchObject({ error: 'busy' });
        await lock.query('commit');
        expect((await held).status).toBe(200);
        // With the place free again the same request is read and judged.
        const judged = await send(server.app, 'POST', '/api/v1/reports', 'not json {', {});
        expect([400, 401]).toContain(judged.status);
      } finally {
        await lock.query('rollback').catch(() => undefined);
        await lock.end();
      }
    });
  },
);
