// The service is SIGKILLed again and again while it writes its reports to its outbox and while
// it delivers them to the real server, through a link the test controls. The test records what
// the service itself queued (read from its outbox folder before anything leaves it) and, at the
// end, compares that with what the server stored, by content: everything the service queued is
// stored once, with the content it queued, and nothing else is. Like the outbox's own SIGKILL
// test, it asserts where its kills landed: it kills until enough landed inside an outbox write,
// inside a send the server never saw, and inside a send the server stored but the device never
// heard back from (each needed count, or a generous cap on attempts, whichever comes first).
import { watch } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngines } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';
import {
  startControlledLink,
  type BatchPlan,
  type BatchStage,
} from '../helpers/controlled-link.ts';
import {
  canonicalJson,
  isItemTemp,
  QueuedRecord,
  readOutboxFolder,
} from '../helpers/outbox-folder.ts';
import {
  agentHome,
  agentStatus,
  hallpass,
  startAgent,
  stopAgent,
  waitFor,
  type AgentHome,
} from '../helpers/agent-process.ts';

const DEVICES = 2;
/** Kills each device needs to have landed in each place. */
const NEEDED = { write: 25, 'before-server': 25, 'after-server': 25 };
/** Attempts per device before the test gives up (and fails on the counts). */
const MAX_ROUNDS = 300;
/** A round waits this long for its moment, then kills anyway (the kill then counts where it lands). */
const MOMENT_WAIT_MS = 120_000;
const engine = testEngines.find((e) => e.name === 'pglite');

type Place = keyof typeof NEEDED;
type Aim = Place | 'anywhere';

/** The next round's aim: the place furthest from its count; every fourth round, anywhere. */
function nextAim(round: number, landed: Record<Place, number>): Aim | null {
  const short = (Object.keys(NEEDED) as Place[]).filter((p) => landed[p] < NEEDED[p]);
  if (short.length === 0) {
    return null;
  }
  if (round % 4 === 3) {
    return 'anywhere';
  }
  return short.sort((a, b) => landed[a] / NEEDED[a] - landed[b] / NEEDED[b])[0] ?? null;
}

describe('SIGKILL of the service while it writes and while it sends', () => {
  let server: TestServer;
  let url: string;
  beforeAll(async () => {
    if (engine === undefined) {
      throw new Error('no PGlite engine');
    }
    // Every report kept raw (not only news), so the test can check each one landed, once.
    server = await startTestServer(engine, { ingestConcurrency: 1000, reportStorage: 'all' });
    await server.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${String((server.app.server.address() as AddressInfo).port)}`;
  });
  afterAll(() => server.close());

  /** One device: kills until each place has its count; returns what it queued and the counts. */
  async function killDevice() {
    let home: AgentHome | null = null;
    const outboxDir = () => join(home?.stateDir ?? '', 'outbox');
    const queued = new QueuedRecord();
    const sentMismatches: string[] = [];
    let plan: BatchPlan = { holdAt: null };
    const link = await startControlledLink(url, async (body) => {
      // Nothing leaves the outbox before the server answers, so every item of this batch is
      // still in the folder: record it, and check that what is sent is what was queued.
      queued.add(await readOutboxFolder(outboxDir()));
      const batch = JSON.parse(body.toString('utf8')) as {
        reports: { id: string }[];
        events: { id: string }[];
      };
      for (const item of [...batch.reports, ...batch.events]) {
        const known = queued.items.get(item.id.toLowerCase());
        if (known === undefined || canonicalJson(known.payload) !== canonicalJson(item)) {
          sentMismatches.push(item.id);
        }
      }
      const current = plan;
      plan = { holdAt: null };
      return current;
    });
    try {
      home = await agentHome({ serverUrl: link.url });
      const enrolled = await hallpass(home, [
        'enroll',
        '--server',
        link.url,
        '--token',
        server.token,
      ]);
      const deviceId = /device ([0-9a-f-]{36})/.exec(enrolled.stdout)?.[1] ?? '';
      // One clean run first: it caches the slow os-updates result, so the killed runs below
      // spend their time writing and delivering rather than in apt-get.
      const warm = startAgent(home);
      await waitFor(
        'a first pass',
        async () => (await agentStatus(home as AgentHome))?.lastCheckAt,
      );
      await stopAgent(warm);

      const landed: Record<Place, number> = { write: 0, 'before-server': 0, 'after-server': 0 };
      let kills = 0;
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const aim = nextAim(round, landed);
        if (aim === null) {
          break;
        }
        queued.add(await readOutboxFolder(outboxDir()));
        // A half-written file from an earlier kill stays until the service next opens its outbox.
        const leftBefore = new Set(queued.unfinished);
        const agent = startAgent(home);
        const exited = new Promise<void>((resolve) =>
          agent.once('exit', () => {
            resolve();
          }),
        );
        const atKill = { stages: [] as BatchStage[] };
        let kill = (): void => {
          atKill.stages = link.inFlight();
          agent.kill('SIGKILL');
          kill = () => undefined;
        };
        const holdAndKill = async () => {
          kill();
          await exited;
        };
        const watcher =
          aim === 'write'
            ? watch(outboxDir(), (_event, name) => {
                if (name !== null && isItemTemp(name)) {
                  kill();
                }
              })
            : null;
        if (aim === 'before-server' || aim === 'after-server') {
          plan = { holdAt: aim, hold: holdAndKill };
        }
        const timer = setTimeout(
          () => {
            kill();
          },
          aim === 'anywhere' ? Math.random() * 3000 : MOMENT_WAIT_MS,
        );
        await exited;
        clearTimeout(timer);
        watcher?.close();
        plan = { holdAt: null };
        kills++;
        // Where it landed, from what can be seen afterwards: an item file left half-written,
        // or a batch the link was holding at the moment of the kill.
        const folder = await readOutboxFolder(outboxDir());
        queued.add(folder);
        landed.write += folder.unfinished.some((id) => !leftBefore.has(id)) ? 1 : 0;
        const { stages } = atKill;
        landed['before-server'] += stages.includes('before-server') ? 1 : 0;
        landed['after-server'] += stages.includes('after-server') ? 1 : 0;
      }

      const last = startAgent(home);
      await waitFor('a pass and the outbox drained', async () => {
        const s = await agentStatus(home as AgentHome);
        return (
          s !== null &&
          s.lastCheckAt !== null &&
          s.lastDeliveryAt !== null &&
          s.outbox.reports + s.outbox.events === 0
        );
      });
      expect(await stopAgent(last)).toBe(0);
      const left = await readOutboxFolder(outboxDir());
      expect(left.items).toEqual([]);
      return { deviceId, queued, landed, kills, sentMismatches };
    } finally {
      await link.close();
    }
  }

  it(
    'kills land in writes and in sends; the server stores what the service queued, once, as queued',
    { timeout: 3_600_000 },
    async () => {
      const devices = await Promise.all(Array.from({ length: DEVICES }, killDevice));
      for (const { deviceId, queued, landed, kills, sentMismatches } of devices) {
        console.info(
          `service kills on ${deviceId}: ${String(kills)}; inside an outbox write ${String(landed.write)}, inside a send before the server ${String(landed['before-server'])}, after the server stored ${String(landed['after-server'])}; ${String(queued.items.size)} items queued, ${String(queued.unfinished.size)} cut off mid-write`,
        );
        expect(landed.write).toBeGreaterThanOrEqual(NEEDED.write);
        expect(landed['before-server']).toBeGreaterThanOrEqual(NEEDED['before-server']);
        expect(landed['after-server']).toBeGreaterThanOrEqual(NEEDED['after-server']);
        expect(sentMismatches, 'sent but not as queued').toEqual([]);

        const reports = await server.db.query<{ id: string; body: unknown }>(
          'select id, body from reports where device_id = $1',
          [deviceId],
        );
        const events = await server.db.query<{
          id: string;
          type: string;
          occurred_at: Date | string;
          data: unknown;
        }>('select id, type, occurred_at, data from events where device_id = $1', [deviceId]);
        const receipts = await server.db.query<{ id: string }>(
          'select id from reports where device_id = $1',
          [deviceId],
        );
        // A report is stored whole; an event as its type, time and data (server/store/ingest.ts).
        const eventContent = (type: unknown, occurredAt: unknown, data: unknown) =>
          canonicalJson({ type, at: new Date(String(occurredAt)).getTime(), data });
        const stored = new Map<string, string>([
          ...reports.map((r) => [r.id, canonicalJson(r.body)] as const),
          ...events.map(
            (e) =>
              [
                e.id,
                eventContent(
                  e.type,
                  e.occurred_at instanceof Date ? e.occurred_at.toISOString() : e.occurred_at,
                  e.data,
                ),
              ] as const,
          ),
        ]);
        // Everything queued is stored with the content it was queued with; nothing else is.
        expect([...stored.keys()].sort()).toEqual([...queued.items.keys()].sort());
        for (const [id, item] of queued.items) {
          const { payload } = item;
          expect(stored.get(id), `content of ${item.kind} ${id}`).toBe(
            item.kind === 'report'
              ? canonicalJson(payload)
              : eventContent(payload.type, payload.occurredAt, payload.data),
          );
        }
        expect(receipts.map((r) => r.id).sort()).toEqual(reports.map((r) => r.id).sort());
        // A write cut off by a kill never finished, so that item must not exist anywhere.
        expect([...queued.unfinished].filter((id) => stored.has(id))).toEqual([]);
        // Stored once by content, not only by key: no report body twice under two ids.
        const bodies = reports.map((r) => {
          const { id: _id, ...rest } = r.body as Record<string, unknown>;
          return canonicalJson(rest);
        });
        expect(new Set(bodies).size).toBe(bodies.length);
      }
    },
  );
});
