// SIGKILL at random points: a child adds (or delivers) in a loop and is killed 0–30 ms after
// it opened the outbox; the test reopens the same folder and checks nothing it was told
// about is lost, duplicated or reported corrupt. Each chain reuses one folder, so later
// kills also land on an outbox that earlier kills left behind.
import { createServer, type Server } from 'node:http';
import { readdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Outbox, type OutboxItem } from '../../../../agent/core/outbox/index.ts';
import { runChild, type ChildRun } from '../../../helpers/outbox-child.ts';
import { removeDir, sampleEvent, sampleReport, tempDir } from '../../../helpers/outbox-fixtures.ts';

const addLoop = fileURLToPath(new URL('./add-loop.ts', import.meta.url));
const deliverLoop = fileURLToPath(new URL('./deliver-loop.ts', import.meta.url));
const CHAINS = 4;
const KILLS_PER_CHAIN = 50;
const dirs: string[] = [];
beforeAll(async () => {
  // One clean run first, so V8's compile cache is written (a killed child never writes it).
  const dir = await tempDir();
  dirs.push(dir);
  expect(await runChild(addLoop, [dir, '1'], null)).toMatchObject({ code: 0 });
});
afterAll(async () => {
  await Promise.all(dirs.map(removeDir));
});

const randomDelay = () => Math.floor(Math.random() * 31);
const marked = (run: ChildRun, mark: string) =>
  run.lines.filter((line) => line.startsWith(mark)).map((line) => line.slice(1));

const idOf = (file: string) => file.slice(-41, -5);

async function everything(outbox: Outbox): Promise<OutboxItem[]> {
  const { reports, events } = outbox.depth();
  return outbox.peekBatch(reports, events);
}

/** One folder, killed again and again; returns the kills, how many hit an add, items kept. */
async function killChain(): Promise<{ kills: number; midAdd: number; items: number }> {
  const dir = await tempDir();
  dirs.push(dir);
  const resolved = new Set<string>();
  const started = new Set<string>();
  let kills = 0;
  let midAdd = 0;
  for (let i = 0; i < KILLS_PER_CHAIN; i++) {
    const delay = randomDelay();
    const run = await runChild(addLoop, [dir], delay);
    expect(run, `child failed after ${delay} ms: ${run.stderr}`).toMatchObject({ killed: true });
    kills++;
    const begun = marked(run, '+');
    const done = marked(run, '=');
    midAdd += begun.length > done.length ? 1 : 0;
    begun.forEach((id) => started.add(id));
    done.forEach((id) => resolved.add(id));

    // Open checks every file's integrity; the ids it kept are the item files left in place.
    const outbox = await Outbox.open({ dir, maxReports: 1_000_000 });
    const present = (await readdir(dir)).filter((f) => f.endsWith('.json')).map(idOf);
    const { reports, events } = outbox.depth();
    expect(reports + events, 'every file is one item').toBe(present.length);
    expect(new Set(present).size, 'no id twice').toBe(present.length);
    const missing = [...resolved].filter((id) => !present.includes(id));
    expect(missing, `lost after a kill at ${delay} ms`).toEqual([]);
    expect(
      present.filter((id) => !started.has(id)),
      'nothing from nowhere',
    ).toEqual([]);
    // Only an add that had not resolved may have left anything unsound behind.
    for (const file of outbox.corruptFiles()) {
      expect([...resolved].some((id) => file.file.includes(id))).toBe(false);
    }
    await outbox.close();
  }
  // Finally read every item back in full, schema included.
  const outbox = await Outbox.open({ dir, maxReports: 1_000_000 });
  const items = (await everything(outbox)).map((item) => item.id);
  expect(new Set(items)).toEqual(new Set([...resolved, ...items.filter((id) => started.has(id))]));
  expect(outbox.corruptFiles()).toEqual([]);
  return { kills, midAdd, items: items.length };
}

/** A stand-in for the server: idempotent by id, sometimes busy, sometimes cut off mid-answer. */
function fakeServer() {
  const received = new Map<string, number>();
  let requests = 0;
  // Away: every connection cut, as a refused one would be to the device. The port stays held
  // (closing it and listening again can fail with EADDRINUSE on a busy machine).
  let away = false;
  const server: Server = createServer((request, response) => {
    if (away) {
      request.socket.destroy();
      return;
    }
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      requests++;
      if (requests % 5 === 0) {
        response.writeHead(503, { 'retry-after': '0' }).end();
        return;
      }
      const { items } = JSON.parse(body) as { items: OutboxItem[] };
      for (const item of items) {
        received.set(item.id, (received.get(item.id) ?? 0) + 1);
      }
      if (requests % 7 === 0) {
        // Stored, but the answer never arrives: the device must resend, the server store once.
        request.socket.destroy();
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ accepted: items.map((item) => item.id) }));
    });
  });
  const listen = () =>
    new Promise<number>((resolve) => {
      server.listen(0, '127.0.0.1', () => {
        resolve((server.address() as AddressInfo).port);
      });
    });
  const goAway = () => {
    away = true;
    server.closeAllConnections();
  };
  const comeBack = () => {
    away = false;
  };
  const stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => {
        resolve();
      });
    });
  return { received, listen, goAway, comeBack, stop, requests: () => requests };
}

describe('outbox under SIGKILL', () => {
  it(`loses and duplicates nothing across ${CHAINS * KILLS_PER_CHAIN} kills during add`, async () => {
    const chains = await Promise.all(Array.from({ length: CHAINS }, killChain));
    const kills = chains.reduce((sum, chain) => sum + chain.kills, 0);
    expect(kills).toBeGreaterThanOrEqual(200);
    // Most kills must land inside an add (write, fsync, rename), or the test proves little.
    const midAdd = chains.reduce((sum, chain) => sum + chain.midAdd, 0);
    expect(midAdd / kills).toBeGreaterThan(0.5);
    console.info(`outbox SIGKILL: ${kills} kills, ${midAdd} inside add()`);
    expect(chains.every((chain) => chain.items > 0)).toBe(true);
  }, 240_000);

  it('delivers every id exactly once, counted by id, across kills and a server away and back', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const outbox = await Outbox.open({ dir, maxReports: 100_000 });
    const expected = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const item = i % 3 === 0 ? sampleEvent() : sampleReport();
      await outbox.add(item);
      expected.add(item.id);
    }
    await outbox.close();
    const server = fakeServer();
    const port = await server.listen();
    const url = `http://127.0.0.1:${port}/reports`;
    const started = new Set<string>();
    let kills = 0;
    let drained = false;
    for (let i = 0; !drained && i < 200; i++) {
      if (i === 4) {
        // The server goes away for a while; the device backs off and keeps everything.
        server.goAway();
        setTimeout(server.comeBack, 150);
      }
      const run = await runChild(deliverLoop, [dir, url], i < 20 ? randomDelay() : null);
      expect(run.killed || run.code === 0, run.stderr).toBe(true);
      kills += run.killed ? 1 : 0;
      drained = run.lines.includes('drained');
      marked(run, '+').forEach((id) => started.add(id));
      marked(run, '=').forEach((id) => expected.add(id));
    }
    await server.stop();
    expect(drained).toBe(true);
    expect(kills).toBeGreaterThanOrEqual(15);
    const stored = new Set(server.received.keys());
    expect(
      [...expected].filter((id) => !stored.has(id)),
      'never delivered',
    ).toEqual([]);
    const extra = [...stored].filter((id) => !expected.has(id) && !started.has(id));
    expect(extra, 'delivered from nowhere').toEqual([]);
    // Duplicates in transport happened (resends after lost answers and kills); stored once.
    const resent = [...server.received.values()].filter((count) => count > 1).length;
    expect(resent).toBeGreaterThan(0);
    console.info(
      `outbox delivery: ${kills} kills, ${stored.size} ids stored once, ${resent} resent`,
    );
    const after = await Outbox.open({ dir, maxReports: 100_000 });
    expect(after.depth()).toEqual({ reports: 0, events: 0 });
    expect(after.corruptFiles()).toEqual([]);
  }, 120_000);
});
