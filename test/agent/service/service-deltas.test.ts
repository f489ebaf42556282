// The service's reports as deltas (issue 18), end to end against the real server (PGlite, real
// signed requests over a real port): a delta after a full report the server acknowledged, the
// full report again after the server refuses a delta's base, and a full report at least once a
// day whatever the deltas. The firewall check runs its real parser on recorded `ufw status`
// outputs (ufw alone and inactive reads `unknown`: other front ends might filter); the device's
// clock is the test's, so a day passes without waiting for it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ReportBatch } from '../../../shared/index.ts';
import { allChecks } from '../../../agent/core/checks/index.ts';
import { enrolDevice } from '../../../agent/core/enrolment.ts';
import { Outbox } from '../../../agent/core/outbox/index.ts';
import { PolicyCache } from '../../../agent/core/policy/policy-cache.ts';
import { FULL_REPORT_EVERY_MS } from '../../../agent/core/report-delta.ts';
import type { DeviceCredential, SecretStore } from '../../../agent/core/secrets/secret-store.ts';
import { ServerClient } from '../../../agent/core/server-client.ts';
import { AgentService, type DeviceConnection } from '../../../agent/service/service.ts';
import { SlowCheckCache } from '../../../agent/service/slow-checks.ts';
import { testEngines } from '../../helpers/databases.ts';
import { sampleFacts } from '../../helpers/device-client.ts';
import { fakeHost } from '../../helpers/fake-host.ts';
import { removeDir, tempDir } from '../../helpers/outbox-fixtures.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';

const fixture = (name: string) =>
  readFileSync(new URL(`../../fixtures/linux/firewall/${name}`, import.meta.url), 'utf8');
const UFW = {
  active: fixture('ufw-status-active.txt'),
  inactive: fixture('ufw-status-inactive.txt'),
};

const engine = testEngines.find((e) => e.name === 'pglite');
if (engine === undefined) {
  throw new Error('PGlite engine missing');
}

function memoryStore(): SecretStore & { credential: DeviceCredential | null } {
  return {
    location: 'memory',
    credential: null,
    read() {
      return Promise.resolve(this.credential);
    },
    write(credential) {
      this.credential = credential;
      return Promise.resolve();
    },
  };
}

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe('AgentService reports as deltas, against the real server', () => {
  let server: TestServer;
  let url: string;
  let dir: string;
  beforeAll(async () => {
    server = await startTestServer(engine);
    url = await server.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(() => server.close());
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => {
    await removeDir(dir);
  });

  /** An enrolled service whose firewall is `ufw` and whose clock is `clock.ms`. */
  async function build() {
    const facts = sampleFacts({ os: { ...sampleFacts().os, name: 'linux' } });
    const store = memoryStore();
    await enrolDevice({ serverUrl: url, token: server.token, facts, store });
    const credential = store.credential as DeviceCredential;
    const client = new ServerClient({ credential });
    const sent: { kind: 'full' | 'deltas'; status: string; batch: ReportBatch }[] = [];
    const connection: DeviceConnection = {
      deviceId: credential.deviceId,
      serverUrl: url,
      fetchPolicy: (etag) => client.fetchPolicy(etag),
      // The real client, watched: which form each batch took and what came of it.
      sendBatch: async (batch) => {
        const outcome = await client.sendBatch(batch);
        const failed = outcome.kind === 'failed' ? (outcome.error as { code?: string }) : null;
        sent.push({
          kind: (batch.deltas ?? []).length > 0 ? 'deltas' : 'full',
          status: failed?.code ?? outcome.kind,
          batch,
        });
        return outcome;
      },
    };
    const firewall = { ufw: UFW.active };
    const clock = { ms: Date.parse('2026-12-01T08:40:00Z') };
    const host = {
      ...fakeHost({
        commands: { ufw: () => ({ stdout: firewall.ufw, stderr: '', exitCode: 0 }) },
      }),
      now: () => new Date(clock.ms),
    };
    const service = new AgentService({
      os: 'linux',
      host,
      agentVersion: '0.1.0',
      checks: allChecks.filter((check) => check.id === 'firewall'),
      outbox: await Outbox.open({ dir: join(dir, 'outbox'), maxReports: 100 }),
      policy: (await PolicyCache.open(join(dir, 'policy'))).cache,
      slowChecks: await SlowCheckCache.open(dir),
      collectFacts: () => Promise.resolve(facts),
      connection: () => Promise.resolve(connection),
      log: silent,
      heartbeatMinutes: 60,
      startupJitterMs: 0,
    });
    /**
     * Starts the schedule and waits for its first pass under the group's policy to be delivered
     * (the start-up pass runs with the built-in policy, then the server's comes).
     */
    const start = async () => {
      service.start();
      const deadline = performance.now() + 240_000; // real probes on a loaded machine: generous, not a speed goal
      while (
        !sent.some(
          (s) => s.status === 'accepted' && s.batch.reports[0]?.policy.name === 'Pupil laptops',
        ) ||
        service.status().outbox.reports > 0
      ) {
        if (performance.now() > deadline) {
          throw new Error('timed out waiting for the first report under the group policy');
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await service.settled();
      sent.length = 0;
    };
    /** One scheduled pass (as the schedule runs it) and its delivery. */
    const pass = async (minutesLater: number) => {
      clock.ms += minutesLater * 60_000;
      await service.runPass();
      await service.settled();
    };
    const history = () =>
      server.db.query<{ from_status: string | null; to_status: string }>(
        `select from_status, to_status from check_changes
          where device_id = $1 and check_id = 'firewall' order by id`,
        [credential.deviceId],
      );
    return { service, sent, firewall, start, pass, history, deviceId: credential.deviceId };
  }

  it('sends a delta after a full report the server acknowledged, and its change lands once', async () => {
    const { service, sent, firewall, start, pass, history } = await build();
    await start();
    await pass(15);
    // Unchanged: a delta with no results at all.
    expect(sent.map((s) => [s.kind, s.status])).toEqual([['deltas', 'accepted']]);
    expect(sent[0]?.batch.deltas?.[0]?.results).toEqual([]);
    firewall.ufw = UFW.inactive;
    await pass(15);
    expect(sent.map((s) => [s.kind, s.status]).at(-1)).toEqual(['deltas', 'accepted']);
    expect(sent.at(-1)?.batch.deltas?.[0]?.results.map((r) => r.checkId)).toEqual(['firewall']);
    expect(await history()).toEqual([
      { from_status: null, to_status: 'pass' },
      { from_status: 'pass', to_status: 'unknown' },
    ]);
    await service.stop();
  });

  it('sends the report in full at once when the server refuses a delta’s base, losing nothing', async () => {
    const { service, sent, firewall, start, pass, history, deviceId } = await build();
    await start();
    // The server's database is restored from before this device's last report.
    await server.db.query('update devices set report_digest = null where id = $1', [deviceId]);
    sent.length = 0;
    firewall.ufw = UFW.inactive;
    await pass(15);
    expect(sent.map((s) => [s.kind, s.status])).toEqual([
      ['deltas', 'report-base-mismatch'],
      ['full', 'accepted'],
    ]);
    expect(service.status().outbox).toMatchObject({ reports: 0 });
    expect((await history()).at(-1)).toEqual({ from_status: 'pass', to_status: 'unknown' });
    // And the full report gave a new base: the next report is a delta again.
    await pass(15);
    expect(sent.map((s) => s.kind).at(-1)).toBe('deltas');
    await service.stop();
  });

  it('sends a full report once a day whatever the deltas', async () => {
    const { service, sent, start, pass } = await build();
    await start();
    const passesPerDay = FULL_REPORT_EVERY_MS / (15 * 60_000);
    for (let i = 1; i < passesPerDay; i++) {
      await pass(15);
    }
    expect(sent.every((s) => s.kind === 'deltas' && s.status === 'accepted')).toBe(true);
    expect(sent).toHaveLength(passesPerDay - 1);
    await pass(15);
    expect(sent.at(-1)).toMatchObject({ kind: 'full', status: 'accepted' });
    await pass(15);
    expect(sent.at(-1)).toMatchObject({ kind: 'deltas', status: 'accepted' });
    await service.stop();
  });
});
