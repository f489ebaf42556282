// End to end: the real `hallpass service` process with its state folder on a 1 MiB tmpfs, the
// real server on a real port. The disk is filled while the service runs: it must stay up, say so
// in `hallpass status`, lose nothing it had queued, and tell ICT in the first report that gets
// through once there is room again (issue 12). Mounting needs root (CI runs as root).
import { execFile } from 'node:child_process';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPolicyFile } from '../../agent/core/policy/policy-file.ts';
import { uploadPolicy } from '../../server/store/policies.ts';
import { startControlledLink } from '../helpers/controlled-link.ts';
import { testEngines } from '../helpers/databases.ts';
import { readOutboxFolder } from '../helpers/outbox-folder.ts';
import {
  agentHome,
  agentStatus,
  hallpass,
  startAgent,
  stopAgent,
  waitFor,
} from '../helpers/agent-process.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';
import { runningAsRoot } from '../helpers/unprivileged-user.ts';

const exec = promisify(execFile);
const engine = testEngines.find((e) => e.name === 'pglite');
const examplePolicy = new URL('../../agent/core/policy/example-policy.yaml', import.meta.url)
  .pathname;

interface HealthResult {
  checkId: string;
  status: string;
  evidence: { passesNotStored?: number; lastError?: string };
}

describe.skipIf(!runningAsRoot)(
  'the real service on a full state disk',
  { timeout: 900_000 },
  () => {
    let server: TestServer;
    let url: string;
    beforeAll(async () => {
      if (engine === undefined) {
        throw new Error('no PGlite engine');
      }
      // Every report kept raw (not only news), so the test can check each queued one landed.
      server = await startTestServer(engine, { reportStorage: 'all' });
      // A pass a minute (the policy's floor), so the test sees passes fail and recover.
      const policy = await readPolicyFile(examplePolicy);
      await server.db.transaction((tx) =>
        uploadPolicy(tx, {
          groupId: server.groupId,
          policy: { ...policy, reporting: { ...policy.reporting, intervalMinutes: 1 } },
          uploadedBy: null,
        }),
      );
      await server.app.listen({ host: '127.0.0.1', port: 0 });
      url = `http://127.0.0.1:${String((server.app.server.address() as AddressInfo).port)}`;
    });
    afterAll(() => server.close());

    it('stays up, says so in status and the next report, and loses nothing queued', async () => {
      // The device reaches the server through a link the test can cut, so reports wait in the
      // outbox on the full disk.
      let online = true;
      const link = await startControlledLink(url, () =>
        Promise.resolve(online ? { holdAt: null } : { holdAt: 'before-server' as const }),
      );
      const home = await agentHome({ serverUrl: link.url });
      await mkdir(home.stateDir, { mode: 0o700 });
      await exec('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', home.stateDir]);
      const outboxDir = join(home.stateDir, 'outbox');
      const filler = join(home.stateDir, 'filler');
      let running: ReturnType<typeof startAgent> | null = null;
      try {
        const enrolled = await hallpass(home, [
          'enroll',
          '--server',
          link.url,
          '--token',
          server.token,
        ]);
        expect(enrolled.code, enrolled.stderr).toBe(0);
        const deviceId = /device ([0-9a-f-]{36})/.exec(enrolled.stdout)?.[1] ?? '';
        running = startAgent(home);
        const agent = running;
        await waitFor('the first delivery', async () => {
          const s = await agentStatus(home);
          return s?.lastDeliveryAt !== null && s?.outbox.reports === 0 ? s : null;
        });

        // Offline: the next scheduled pass's report waits in the outbox.
        online = false;
        await waitFor('a report waiting in the outbox', async () => {
          const s = await agentStatus(home);
          return s !== null && s.outbox.reports > 0 ? s : null;
        });
        const queued = (await readOutboxFolder(outboxDir)).items.filter((i) => i.kind === 'report');
        expect(queued.length).toBeGreaterThan(0);

        // Fill the disk: the write fails part way, leaving no room at all.
        await expect(writeFile(filler, Buffer.alloc(2 * 1024 * 1024))).rejects.toThrow(/ENOSPC/);
        const failing = await waitFor('a pass that could not be stored', async () => {
          const s = await agentStatus(home);
          return s?.passFailures !== null && s?.passFailures !== undefined ? s : null;
        });
        expect(failing.passFailures?.lastError).toMatch(/ENOSPC/);
        const shown = await hallpass(home, ['status']);
        expect(shown.stdout).toMatch(/CHECK PASSES FAILING\s+\d+ in a row since .*ENOSPC/);
        expect(agent.exitCode).toBeNull();
        // What was queued before the disk filled is still there, whole.
        const during = new Set((await readOutboxFolder(outboxDir)).items.map((i) => i.id));
        expect(queued.filter((i) => !during.has(i.id))).toEqual([]);

        // Room and the network again: the next pass is stored, and its report tells ICT.
        await rm(filler);
        online = true;
        const health = await waitFor(
          'the report that tells ICT about the full disk',
          async () => {
            const rows = await server.db.query<{ body: { results: HealthResult[] } }>(
              'select body from reports where device_id = $1',
              [deviceId],
            );
            return rows
              .map((row) => row.body.results.find((r) => r.checkId === 'agent-health'))
              .find((r) => r?.status === 'fail');
          },
          300_000,
        );
        expect(health.evidence.passesNotStored).toBeGreaterThanOrEqual(1);
        expect(health.evidence.lastError).toMatch(/ENOSPC/);
        const drained = await waitFor('the outbox to drain', async () => {
          const s = await agentStatus(home);
          return s !== null && s.outbox.reports === 0 && s.outbox.events === 0 ? s : null;
        });
        expect(drained.passFailures).toBeNull();
        // Every report queued before the disk filled reached the server; nothing was set aside.
        const receipts = await server.db.query<{ id: string }>(
          'select id from reports where device_id = $1',
          [deviceId],
        );
        const received = new Set(receipts.map((r) => r.id));
        expect(queued.filter((i) => !received.has(i.id)).map((i) => i.id)).toEqual([]);
        expect((await readdir(outboxDir)).filter((name) => name.includes('.corrupt-'))).toEqual([]);
        expect(agent.exitCode).toBeNull();
        expect(await stopAgent(agent)).toBe(0);
      } finally {
        if (running !== null) {
          await stopAgent(running);
        }
        await link.close();
        await rm(filler, { force: true });
        await exec('umount', [home.stateDir]);
        await rm(home.dir, { recursive: true, force: true });
      }
    });
  },
);
