// AgentService's schedule when a pass fails: built from real parts (an outbox and a policy cache
// in a temp folder, a real check and the real device facts), not enrolled, so reports wait in the
// outbox. Only setTimeout is faked, to reach the 15-minute pass interval without waiting for it.
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { allChecks } from '../../../agent/core/checks/index.ts';
import { collectDeviceFacts } from '../../../agent/core/facts/device-facts.ts';
import { realHost } from '../../../agent/core/host.ts';
import { Outbox } from '../../../agent/core/outbox/index.ts';
import { PolicyCache } from '../../../agent/core/policy/policy-cache.ts';
import {
  AgentService,
  type DeviceConnection,
  type ServiceLog,
} from '../../../agent/service/service.ts';
import { SlowCheckCache } from '../../../agent/service/slow-checks.ts';
import { removeDir, tempDir } from '../../helpers/outbox-fixtures.ts';

let dir: string;
beforeEach(async () => {
  dir = await tempDir();
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});
afterEach(async () => {
  vi.useRealTimers();
  await removeDir(dir);
});

interface LogEntry {
  level: string;
  details: Record<string, unknown>;
  message: string;
}

function recordingLog(entries: LogEntry[]): ServiceLog {
  const at =
    (level: string) =>
    (details: Record<string, unknown>, message: string): void => {
      entries.push({ level, details, message });
    };
  return { info: at('info'), warn: at('warn'), error: at('error') };
}

/** Polls (in real time: probes and files are real) until `ready` holds. */
/**
 * Waits for `ready`. The passes run real probes (apt-get on Linux), which take seconds on a
 * loaded machine: a generous bound, inside the suite's 300 s test time-out, not a speed goal.
 */
async function until(what: string, ready: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = performance.now() + 240_000;
  while (!(await ready())) {
    if (performance.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function build(
  log: LogEntry[],
  checkIds: readonly string[] = ['firewall'],
  connection: () => Promise<DeviceConnection | null> = () => Promise.resolve(null),
) {
  const outboxDir = join(dir, 'outbox');
  const outbox = await Outbox.open({ dir: outboxDir, maxReports: 100 });
  const policy = (await PolicyCache.open(join(dir, 'policy'))).cache;
  const service = new AgentService({
    os: 'linux',
    host: realHost,
    agentVersion: '0.1.0',
    checks: allChecks.filter((check) => checkIds.includes(check.id)),
    outbox,
    policy,
    slowChecks: await SlowCheckCache.open(dir),
    collectFacts: async () => (await collectDeviceFacts('linux', '0.1.0')).facts,
    connection,
    log: recordingLog(log),
    heartbeatMinutes: 5,
    startupJitterMs: 0,
  });
  const reports = async () =>
    (await readdir(outboxDir)).filter((name) => /^\d+-report-/.test(name)).length;
  return {
    service,
    outboxDir,
    reports,
    intervalMs: policy.current().reporting.intervalMinutes * 60_000,
  };
}

describe('AgentService schedule', () => {
  it('goes on checking after a pass that failed (the outbox could not be written)', async () => {
    const log: LogEntry[] = [];
    const { service, outboxDir, reports, intervalMs } = await build(log);
    service.start();
    await vi.advanceTimersByTimeAsync(0);
    await until('the start-up pass', () => service.status().lastCheckAt !== null);
    expect(await reports()).toBe(1);
    const first = service.status().lastCheckAt;

    // The outbox directory is replaced by a file: the next pass cannot queue its report.
    await rm(outboxDir, { recursive: true });
    await writeFile(outboxDir, 'not a directory');
    await vi.advanceTimersByTimeAsync(intervalMs * 1.1);
    await until('the failed pass to be logged', () =>
      log.some((entry) => entry.message === 'scheduled task failed'),
    );
    expect(log.find((entry) => entry.message === 'scheduled task failed')?.details).toMatchObject({
      error: expect.stringMatching(/ENOTDIR/) as unknown,
    });
    expect(service.status().lastCheckAt).toBe(first);

    // Once the disk is sound again, the next scheduled pass queues its report.
    await rm(outboxDir);
    await mkdir(outboxDir);
    await vi.advanceTimersByTimeAsync(intervalMs * 1.1);
    await until('the next pass after the failure', () => service.status().lastCheckAt !== first);
    expect(await reports()).toBe(1);
    await service.stop();
  });

  it('still queues the report when the slow-check cache cannot be written', async () => {
    const log: LogEntry[] = [];
    // A directory where the cache file goes: the rename onto it fails.
    await mkdir(join(dir, 'slow-checks.json'));
    const { service, reports } = await build(log, ['firewall', 'os-updates']);
    service.start();
    await vi.advanceTimersByTimeAsync(0);
    await until('the start-up pass', () => service.status().lastCheckAt !== null);
    expect(await reports()).toBe(1);
    expect(
      service
        .status()
        .results.map((result) => result.checkId)
        .sort(),
    ).toEqual(['agent-health', 'firewall', 'os-updates']);
    expect(log.find((entry) => entry.message === 'slow-check results not cached')?.level).toBe(
      'warn',
    );
    await service.stop();
  });

  it('survives an outbox it cannot change after a delivery, and says why', async () => {
    const log: LogEntry[] = [];
    let online = false;
    let outboxDir = '';
    // The server is not what is tested here: one that accepts every batch, and at that moment
    // the disk goes bad (the outbox directory becomes a file), so acknowledging fails for real.
    const accepting: DeviceConnection = {
      deviceId: '00000000-0000-4000-8000-000000000001',
      serverUrl: 'http://127.0.0.1:1',
      fetchPolicy: () => Promise.resolve({ kind: 'not-modified' }),
      sendBatch: async (batch) => {
        await rm(outboxDir, { recursive: true });
        await writeFile(outboxDir, 'not a directory');
        return { kind: 'accepted', ids: [...batch.reports, ...batch.events].map((i) => i.id) };
      },
    };
    const built = await build(log, ['firewall'], () => Promise.resolve(online ? accepting : null));
    outboxDir = built.outboxDir;
    const { service } = built;
    service.start();
    await vi.advanceTimersByTimeAsync(0);
    await until('the start-up pass', () => service.status().lastCheckAt !== null);

    online = true;
    // The heartbeat (every 5 minutes) finds the report waiting and delivers it.
    await vi.advanceTimersByTimeAsync(5 * 60_000);
    await until('the failed delivery to be logged', () =>
      log.some((entry) => entry.message === 'delivery failed'),
    );
    expect(service.status().lastDeliveryError).toMatch(/ENOTDIR/);
    await service.stop();
  });

  it('sends a heartbeat only after a whole interval without an accepted batch', async () => {
    const log: LogEntry[] = [];
    // The server is not what is tested here: one that accepts every batch, noting each.
    const sent: ('report' | 'heartbeat')[] = [];
    const accepting: DeviceConnection = {
      deviceId: '00000000-0000-4000-8000-000000000001',
      serverUrl: 'http://127.0.0.1:1',
      fetchPolicy: () => Promise.resolve({ kind: 'not-modified' }),
      sendBatch: (batch) => {
        const items = [...batch.reports, ...(batch.deltas ?? []), ...batch.events];
        sent.push(items.length === 0 ? 'heartbeat' : 'report');
        return Promise.resolve({ kind: 'accepted', ids: items.map((i) => i.id) });
      },
    };
    const { service } = await build(log, ['firewall'], () => Promise.resolve(accepting));
    service.start();
    await vi.advanceTimersByTimeAsync(0);
    await until('the start-up report to be delivered', () => sent.includes('report'));
    await service.settled();
    // Four minutes on, a pass delivers a report: the server heard from the device then.
    await vi.advanceTimersByTimeAsync(4 * 60_000);
    await service.runPass();
    await service.settled();
    expect(sent).toEqual(['report', 'report']);
    // Five minutes after the start-up report, but one after the last: no heartbeat.
    await vi.advanceTimersByTimeAsync(2 * 60_000);
    expect(sent).toEqual(['report', 'report']);
    // Five minutes after the last report: a heartbeat, then one every five minutes.
    await vi.advanceTimersByTimeAsync(3 * 60_000);
    await until('the heartbeat', () => sent.length === 3);
    expect(sent.at(-1)).toBe('heartbeat');
    await vi.advanceTimersByTimeAsync(5 * 60_000);
    await until('the next heartbeat', () => sent.length === 4);
    expect(sent.at(-1)).toBe('heartbeat');
    await service.stop();
  });
});
