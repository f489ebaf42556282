// Faults the service must not hide, on a real disk: a state folder on a small tmpfs that is
// filled until writes fail with ENOSPC, an outbox flooded past its bounds or trimmed at open,
// and a pass asked for again and again. Mounting needs
// root (CI runs as root); elsewhere the tmpfs test is skipped with a note.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION, type AgentEvent, type ReportBatch } from '../../../shared/index.ts';
import { renderStatus } from '../../../agent/commands/status.ts';
import { allChecks } from '../../../agent/core/checks/index.ts';
import { collectDeviceFacts } from '../../../agent/core/facts/device-facts.ts';
import { realHost } from '../../../agent/core/host.ts';
import { Outbox } from '../../../agent/core/outbox/index.ts';
import { PolicyCache } from '../../../agent/core/policy/policy-cache.ts';
import { AgentService, type DeviceConnection } from '../../../agent/service/service.ts';
import { SlowCheckCache } from '../../../agent/service/slow-checks.ts';
import { runningAsRoot } from '../../helpers/unprivileged-user.ts';

const exec = promisify(execFile);
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

async function build(
  dir: string,
  outboxOptions: { maxReports?: number; maxEvents?: number } = {},
  connection: DeviceConnection | null = null,
) {
  const outboxDir = join(dir, 'outbox');
  const outbox = await Outbox.open({ dir: outboxDir, maxReports: 100, ...outboxOptions });
  const service = new AgentService({
    os: 'linux',
    host: realHost,
    agentVersion: '0.1.0',
    checks: allChecks.filter((check) => check.id === 'firewall'),
    outbox,
    policy: (await PolicyCache.open(join(dir, 'policy'))).cache,
    slowChecks: await SlowCheckCache.open(dir),
    collectFacts: async () => (await collectDeviceFacts('linux', '0.1.0')).facts,
    connection: () => Promise.resolve(connection),
    log: quiet,
    heartbeatMinutes: 5,
    startupJitterMs: 0,
  });
  const stored = async (kind: 'report' | 'event') => {
    const names = (await readdir(outboxDir)).filter((n) => n.includes(`-${kind}-`)).sort();
    return Promise.all(
      names.map(async (n) => {
        const [, payload] = (await readFile(join(outboxDir, n), 'utf8')).split('\n');
        return JSON.parse(payload ?? '') as Record<string, unknown>;
      }),
    );
  };
  return { service, outbox, stored };
}

describe.skipIf(!runningAsRoot)('a full state disk (tmpfs)', () => {
  it('shows in the status while passes fail, and in the first report that gets through', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hallpass-full-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await exec('mount', ['-t', 'tmpfs', '-o', 'size=512k,mode=0700', 'tmpfs', dir]);
    cleanups.push(() => exec('umount', [dir]));
    const { service, stored } = await build(dir);
    await service.runPass();
    expect(service.status().passFailures).toBeNull();

    // Fill the disk: a file grows until the tmpfs refuses.
    const filler = join(dir, 'filler');
    await expect(writeFile(filler, Buffer.alloc(1024 * 1024))).rejects.toThrow(/ENOSPC/);
    await expect(service.runPass()).rejects.toThrow(/ENOSPC/);
    await expect(service.runPass()).rejects.toThrow(/ENOSPC/);
    const status = service.status();
    expect(status.passFailures).toMatchObject({
      count: 2,
      lastError: expect.stringMatching(/ENOSPC/) as unknown,
    });
    expect(status.results.find((r) => r.checkId === 'agent-health')?.status).toBe('fail');
    expect(renderStatus(status)).toMatch(/CHECK PASSES FAILING\s+2 in a row since .*ENOSPC/);

    // Space again: the next report carries the failure, the one after is healthy.
    await rm(filler);
    await service.runPass();
    expect(service.status().passFailures).toBeNull();
    await service.runPass();
    const health = (await stored('report')).map((report) =>
      (
        report.results as { checkId: string; status: string; evidence: Record<string, unknown> }[]
      ).find((r) => r.checkId === 'agent-health'),
    );
    expect(health.map((h) => h?.status)).toEqual(['pass', 'fail', 'pass']);
    expect(health[1]?.evidence).toMatchObject({
      passesNotStored: 2,
      since: status.passFailures?.since,
      lastError: expect.stringMatching(/ENOSPC/) as unknown,
    });
    await service.stop();
  });
});

/** A server that takes every batch; what reaches it is what ICT would see. */
function recordingConnection(batches: ReportBatch[]): DeviceConnection {
  return {
    deviceId: '00000000-0000-4000-8000-000000000001',
    serverUrl: 'http://127.0.0.1:1',
    fetchPolicy: () => Promise.resolve({ kind: 'not-modified' }),
    sendBatch: (batch) => {
      batches.push(batch);
      return Promise.resolve({
        kind: 'accepted',
        ids: [...batch.reports, ...batch.events].map((i) => i.id),
      });
    },
  };
}

/** Waits (real time) until the outbox is empty and something was sent. */
async function drained(outbox: Outbox, batches: ReportBatch[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (outbox.depth().events + outbox.depth().reports > 0 || batches.length === 0) {
    if (Date.now() > deadline) {
      throw new Error('timed out waiting for the delivery');
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('bounded outbox, told to ICT', () => {
  const event = (): AgentEvent => ({
    schemaVersion: SCHEMA_VERSION,
    id: crypto.randomUUID(),
    occurredAt: new Date().toISOString(),
    type: 'idle.locked',
    data: { user: 'pupil', idleSeconds: 300 },
  });

  it('refuses a flood of events beyond the bound and sends ICT one notice with the count', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hallpass-flood-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const batches: ReportBatch[] = [];
    const connection = recordingConnection(batches);
    const { service, outbox } = await build(dir, { maxEvents: 20 }, connection);
    // Before start() nothing is sent: the flood meets a full outbox, as it would offline.
    for (let i = 0; i < 50; i++) {
      await service.recordEvent(event());
    }
    expect(outbox.depth().events).toBe(20);
    service.start();
    await drained(outbox, batches);
    await service.stop();
    const sent = batches.flatMap((b) => b.events);
    const notices = sent.filter((e) => e.type === 'tamper.events-dropped');
    expect(notices).toHaveLength(1);
    expect(notices[0]?.data).toMatchObject({ count: 30 });
    expect(sent.filter((e) => e.type === 'idle.locked')).toHaveLength(20);
  });
});

describe('reports dropped at open', () => {
  it('reach ICT as one outbox.reports-dropped event with the count', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hallpass-dropped-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const offline = await build(dir, { maxReports: 10 });
    for (let i = 0; i < 5; i++) {
      await offline.service.runPass();
    }
    await offline.service.stop();
    // The bound was lowered (or a crash left extra reports): the next start drops the oldest.
    const batches: ReportBatch[] = [];
    const { service, outbox } = await build(dir, { maxReports: 2 }, recordingConnection(batches));
    service.start();
    await drained(outbox, batches);
    await service.stop();
    const notices = batches
      .flatMap((b) => b.events)
      .filter((e) => e.type === 'outbox.reports-dropped');
    // The three dropped at open; the start-up pass may drop one more, in the same or a later
    // notice, depending on whether it stored its report before the first send.
    const counts = notices.map((e) => (e.data as { count: number }).count);
    expect(counts.length).toBeGreaterThanOrEqual(1);
    expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(3);
  });
});

describe('requested passes (checks:run, open to any local user)', () => {
  it('queue a report only when a result changed; scheduled passes always queue one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hallpass-requested-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const { service, stored } = await build(dir);
    await service.runPass();
    for (let i = 0; i < 5; i++) {
      await service.runPass({ requested: true });
    }
    expect(await stored('report')).toHaveLength(1);
    expect(service.status().lastCheckAt).not.toBeNull();
    await service.runPass();
    expect(await stored('report')).toHaveLength(2);
    await service.stop();
  });
});
