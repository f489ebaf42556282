// Admission on the real route: a busy instance queues batches for a place instead of refusing
// them, and what it refuses carries a Retry-After of whole seconds from its own drain estimate.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachEngine } from '../../../../helpers/databases.ts';
import { report, result, TestDevice } from '../../../../helpers/device-client.ts';
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
