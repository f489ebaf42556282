// The real `hallpass service` process SIGKILLed at random points of its life (start-up, check
// pass, outbox write, delivery, policy and cache writes) against the real server, behind a slow
// link: a proxy holds each answer to a batch for 1.5-2.5 s after the server has stored it, so
// many kills land between "stored" and "acknowledged" and the next run sends those ids again.
// Between kills the test lists the outbox: every item ever seen there durably must reach the
// server, and be stored once.
// (The outbox's own SIGKILL suite, test/agent/core/outbox/sigkill.test.ts, kills a lighter child
// 220 times; this one kills the whole service.)
import { readdir } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseItemFileName } from '../../agent/core/outbox/record.ts';
import { testEngines } from '../helpers/databases.ts';
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

const KILLS = 30;
const engine = testEngines.find((e) => e.name === 'pglite');

/** A slow link to `upstream`: answers to report batches wait; counts each item id sent. */
function slowLink(upstream: string): { server: Server; sent: Map<string, number> } {
  const sent = new Map<string, number>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const isBatch = request.method === 'POST' && request.url === '/api/v1/reports';
      if (isBatch) {
        const batch = JSON.parse(body.toString()) as {
          reports: { id: string }[];
          events: { id: string }[];
        };
        for (const item of [...batch.reports, ...batch.events]) {
          sent.set(item.id.toLowerCase(), (sent.get(item.id.toLowerCase()) ?? 0) + 1);
        }
      }
      const forward = httpRequest(
        `${upstream}${request.url ?? '/'}`,
        { method: request.method, headers: request.headers },
        (answer) => {
          const parts: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => parts.push(chunk));
          answer.on('end', () => {
            const reply = () => {
              if (!response.destroyed) {
                response.writeHead(answer.statusCode ?? 502, answer.headers);
                response.end(Buffer.concat(parts));
              }
            };
            setTimeout(reply, isBatch ? 1500 + Math.random() * 1000 : 0);
          });
        },
      );
      forward.on('error', () => response.destroy());
      forward.end(body);
    });
  });
  return { server, sent };
}

/** Ids of the items in the outbox now (temp files of a write cut short are not items). */
async function outboxIds(home: AgentHome): Promise<{ kind: string; id: string }[]> {
  const names = await readdir(join(home.stateDir, 'outbox')).catch(() => []);
  return names.flatMap((name) => {
    const item = parseItemFileName(name);
    return item === null ? [] : [{ kind: item.kind, id: item.id.toLowerCase() }];
  });
}

describe('agent service under SIGKILL', { timeout: 300_000 }, () => {
  let server: TestServer;
  let link: ReturnType<typeof slowLink>;
  let url: string;
  beforeAll(async () => {
    if (engine === undefined) {
      throw new Error('no PGlite engine');
    }
    server = await startTestServer(engine);
    await server.app.listen({ host: '127.0.0.1', port: 0 });
    link = slowLink(
      `http://127.0.0.1:${String((server.app.server.address() as AddressInfo).port)}`,
    );
    await new Promise<void>((resolve) => link.server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${String((link.server.address() as AddressInfo).port)}`;
  });
  afterAll(async () => {
    link.server.closeAllConnections();
    link.server.close();
    await server.close();
  });

  it(`loses and duplicates nothing across ${KILLS} kills at random points`, async () => {
    const home = await agentHome({ serverUrl: url });
    const enrolled = await hallpass(home, ['enroll', '--server', url, '--token', server.token]);
    const deviceId = /device ([0-9a-f-]{36})/.exec(enrolled.stdout)?.[1] ?? '';
    expect(deviceId).not.toBe('');

    // One clean run first: it caches the slow os-updates result, so each later start-up pass
    // takes about a second and kills land in every phase, not only in apt.
    const first = startAgent(home);
    await waitFor('the first delivery', async () => {
      const s = await agentStatus(home);
      return s?.lastDeliveryAt !== null && s?.outbox.reports === 0;
    });
    expect(await stopAgent(first)).toBe(0);

    const seen = new Map<string, string>();
    let killedWithItems = 0;
    for (let i = 0; i < KILLS; i++) {
      const agent = startAgent(home);
      const exited = new Promise((resolve) => agent.once('exit', resolve));
      await new Promise((resolve) => setTimeout(resolve, 300 + Math.random() * 4700));
      agent.kill('SIGKILL');
      await exited;
      const items = await outboxIds(home);
      killedWithItems += items.length > 0 ? 1 : 0;
      for (const item of items) {
        seen.set(item.id, item.kind);
      }
    }

    // A last run without a kill drains whatever the kills left.
    const last = startAgent(home);
    try {
      await waitFor('the outbox to drain', async () => {
        const s = await agentStatus(home);
        return s !== null && s.lastDeliveryAt !== null && s.outbox.reports + s.outbox.events === 0;
      });
    } finally {
      expect(await stopAgent(last)).toBe(0);
    }

    const stored = await server.db.query<{ id: string; kind: string }>(
      `select id::text, 'report' as kind from report_receipts where device_id = $1
       union all select id::text, 'event' from events where device_id = $1`,
      [deviceId],
    );
    const storedIds = new Set(stored.map((row) => row.id));
    const lost = [...seen.keys()].filter((id) => !storedIds.has(id));
    const reports = await server.db.query<{ n: string; distinct_ids: string }>(
      'select count(*)::text as n, count(distinct id)::text as distinct_ids from reports where device_id = $1',
      [deviceId],
    );
    const resent = [...link.sent.values()].filter((times) => times > 1).length;
    console.info(
      `service SIGKILL: ${KILLS} kills, ${killedWithItems} with items in the outbox, ` +
        `${seen.size} items seen queued, ${link.sent.size} ids sent (${resent} more than once), ` +
        `${reports[0]?.n ?? '?'} reports stored`,
    );
    expect(killedWithItems).toBeGreaterThan(0);
    expect(lost).toEqual([]);
    expect([...link.sent.keys()].filter((id) => !storedIds.has(id))).toEqual([]);
    expect(reports[0]?.n).toBe(reports[0]?.distinct_ids);
    expect(Number(reports[0]?.n)).toBeGreaterThan(1);
    expect(await outboxIds(home)).toEqual([]);
  });
});
