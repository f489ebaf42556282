// The service is SIGKILLed at random points 200 times while it delivers its outbox to the real
// server (four devices in parallel, 50 kills each). Afterwards every report and event the device
// ever queued is stored exactly once: nothing lost, nothing duplicated.
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Outbox } from '../../agent/core/outbox/outbox.ts';
import { testEngines } from '../helpers/databases.ts';
import { report, result, sampleFacts, usbBlocked } from '../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';
import {
  agentHome,
  agentStatus,
  hallpass,
  startAgent,
  stopAgent,
  waitFor,
  type AgentHome,
} from '../helpers/agent-process.ts';

const DEVICES = 4;
const KILLS_PER_DEVICE = 50;
const engine = testEngines.find((e) => e.name === 'pglite');

/** Queues items as the service would have, while it is not running. */
async function queue(home: AgentHome, events: number, reports: number): Promise<string[]> {
  const outbox = await Outbox.open({ dir: join(home.stateDir, 'outbox'), maxReports: 2000 });
  const ids: string[] = [];
  try {
    for (let i = 0; i < events; i++) {
      const event = usbBlocked();
      await outbox.add({ kind: 'event', id: event.id, payload: event });
      ids.push(event.id);
    }
    for (let i = 0; i < reports; i++) {
      const r = report(sampleFacts(), [result('firewall', 'pass'), result('antivirus', 'fail')]);
      await outbox.add({ kind: 'report', id: r.id, payload: r });
      ids.push(r.id);
    }
  } finally {
    await outbox.close();
  }
  return ids;
}

describe('SIGKILL of the service at random points', () => {
  let server: TestServer;
  let url: string;
  beforeAll(async () => {
    if (engine === undefined) {
      throw new Error('no PGlite engine');
    }
    server = await startTestServer(engine, { ingestConcurrency: 1000 });
    await server.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${String((server.app.server.address() as AddressInfo).port)}`;
  });
  afterAll(() => server.close());

  it(
    `${String(DEVICES * KILLS_PER_DEVICE)} kills: every queued report and event stored exactly once`,
    { timeout: 600_000 },
    async () => {
      const outcomes = await Promise.all(
        Array.from({ length: DEVICES }, async () => {
          const home = await agentHome({ serverUrl: url });
          const enrolled = await hallpass(home, [
            'enroll',
            '--server',
            url,
            '--token',
            server.token,
          ]);
          const deviceId = /device ([0-9a-f-]{36})/.exec(enrolled.stdout)?.[1] ?? '';
          // One clean run first: it caches the slow os-updates result, so the killed runs below
          // spend their time delivering rather than in apt-get.
          const warm = startAgent(home);
          await waitFor(
            'a first pass',
            async () => (await agentStatus(home))?.lastCheckAt,
            120_000,
          );
          await stopAgent(warm);
          const queued = await queue(home, 40, 10);
          let killedWhileSending = 0;
          for (let kill = 0; kill < KILLS_PER_DEVICE; kill++) {
            queued.push(...(await queue(home, 2, kill % 5 === 0 ? 1 : 0)));
            const agent = startAgent(home);
            const exited = new Promise((resolve) => agent.once('exit', resolve));
            await new Promise((resolve) => setTimeout(resolve, Math.random() * 2500));
            const before = await server.db.query('select 1 from events where device_id = $1', [
              deviceId,
            ]);
            agent.kill('SIGKILL');
            await exited;
            const after = await server.db.query('select 1 from events where device_id = $1', [
              deviceId,
            ]);
            killedWhileSending += after.length > before.length ? 1 : 0;
          }
          const last = startAgent(home);
          await waitFor(
            'the outbox to drain',
            async () => {
              const s = await agentStatus(home);
              return (
                s !== null && s.outbox.reports + s.outbox.events === 0 && s.lastDeliveryAt !== null
              );
            },
            120_000,
          );
          expect(await stopAgent(last)).toBe(0);
          return { deviceId, queued, killedWhileSending };
        }),
      );
      for (const { deviceId, queued } of outcomes) {
        const events = await server.db.query<{ id: string }>(
          'select id from events where device_id = $1',
          [deviceId],
        );
        const receipts = await server.db.query<{ id: string }>(
          'select id from report_receipts where device_id = $1',
          [deviceId],
        );
        const stored = [...events, ...receipts].map((r) => r.id);
        // Every id the device queued is at the server; ids are primary keys, so none twice.
        expect(new Set(stored).size).toBe(stored.length);
        const missing = queued.filter((id) => !stored.includes(id));
        expect(missing).toEqual([]);
      }
      console.info(
        `service kills: ${String(DEVICES * KILLS_PER_DEVICE)}; runs that delivered something before their kill: ${String(outcomes.reduce((n, o) => n + o.killedWhileSending, 0))}`,
      );
    },
  );
});
