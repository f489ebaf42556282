// End to end: the real server on a real port, the real `hallpass service` process on this
// machine running every check, the ICT device page in Chromium.
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../server/app.ts';
import { defaultServerConfig } from '../../server/config.ts';
import { createUser } from '../../server/store/users.ts';
import { launchBrowser } from '../helpers/browser.ts';
import { startControlledLink } from '../helpers/controlled-link.ts';
import { canonicalJson, QueuedRecord, readOutboxFolder } from '../helpers/outbox-folder.ts';
import { testEngines } from '../helpers/databases.ts';
import { startSwitchableServer } from '../helpers/switchable-server.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';
import {
  agentHome,
  agentStatus,
  hallpass,
  startAgent,
  stopAgent,
  waitFor,
} from '../helpers/agent-process.ts';

const engine = testEngines.find((e) => e.name === 'pglite');

describe('agent service against the real server', { timeout: 600_000 }, () => {
  let server: TestServer;
  let url: string;
  beforeAll(async () => {
    if (engine === undefined) {
      throw new Error('no PGlite engine');
    }
    // Every report kept raw (not only news), so the tests can see each report the service sent.
    server = await startTestServer(engine, { reportStorage: 'all' });
    await server.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${String((server.app.server.address() as AddressInfo).port)}`;
  });
  afterAll(() => server.close());

  const receipts = async (deviceId: string) =>
    (
      await server.db.query<{ id: string }>('select id from reports where device_id = $1', [
        deviceId,
      ])
    ).map((r) => r.id);

  it('enrols from its config, once, and the first report lands and shows on the device page in Chromium', async () => {
    const token = await server.newToken();
    const home = await agentHome({ serverUrl: url, enrolmentToken: token.token });
    const agent = startAgent(home);
    try {
      const status = await waitFor('the first delivery', async () => {
        const s = await agentStatus(home);
        return s?.lastDeliveryAt !== null && s?.outbox.reports === 0 ? s : null;
      });
      expect(status.enrolled).toBe(true);
      const deviceId = status.deviceId ?? '';
      // Start-up asks for a connection from several places at once: one enrolment, one device.
      const enrolled = await server.db.query<{ id: string }>(
        'select id from devices where enrolled_via = $1',
        [token.id],
      );
      expect(enrolled.map((d) => d.id)).toEqual([deviceId]);
      const [device] = await server.db.query<{ overall_status: string; hostname: string }>(
        'select overall_status, hostname from devices where id = $1',
        [deviceId],
      );
      expect(device?.overall_status).toBe(
        ['fail', 'unknown', 'warn', 'pass'].find((s) => status.results.some((r) => r.status === s)),
      );
      const states = await server.db.query<{ check_id: string; status: string }>(
        'select check_id, status from check_states where device_id = $1',
        [deviceId],
      );
      expect(Object.fromEntries(states.map((s) => [s.check_id, s.status]))).toEqual(
        Object.fromEntries(status.results.map((r) => [r.checkId, r.status])),
      );

      await createUser(server.db, {
        username: 'e2e.admin',
        password: 'correct horse battery staple',
        role: 'viewer',
      });
      const browser = await launchBrowser();
      try {
        const page = await browser.newPage();
        await page.goto(`${url}/sign-in?next=${encodeURIComponent(`/devices/${deviceId}`)}`);
        await page.getByLabel('Username').fill('e2e.admin');
        await page.getByLabel('Password').fill('correct horse battery staple');
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.waitForURL(`${url}/devices/${deviceId}`);
        await expect
          .poll(() => page.locator('h1').textContent())
          .toContain(device?.hostname ?? '?');
        const body = await page.locator('main').textContent();
        for (const result of status.results) {
          expect(body).toContain(result.summary);
        }
      } finally {
        await browser.close();
      }
    } finally {
      expect(await stopAgent(agent)).toBe(0);
    }
  });

  it('queues while the server is down and delivers everything once when it is back', async () => {
    const home = await agentHome({ serverUrl: url, enrolmentToken: server.token });
    const enrolled = await hallpass(home, ['enroll', '--server', url, '--token', server.token]);
    expect(enrolled.stdout).toMatch(/Enrolled as device ([0-9a-f-]{36})/);
    const deviceId = /device ([0-9a-f-]{36})/.exec(enrolled.stdout)?.[1] ?? '';
    const outboxDir = join(home.stateDir, 'outbox');

    // A second server instance plays "the trust's server": down, then back, at an address held
    // throughout (switchable-server.ts). The device reaches it through a link that records,
    // before each batch moves, what the device's outbox holds: what the service itself queued.
    const trust = await startSwitchableServer();
    const open = async () => {
      const app = await buildApp({
        config: { ...defaultServerConfig, logLevel: 'silent' },
        db: server.db,
        logger: false,
      });
      await trust.serve(app);
      return app;
    };
    const queued = new QueuedRecord();
    const link = await startControlledLink(trust.url, async () => {
      queued.add(await readOutboxFolder(outboxDir));
      return { holdAt: null };
    });
    const config = JSON.parse(await readFile(home.configFile, 'utf8')) as object;
    await writeFile(home.configFile, JSON.stringify({ ...config, serverUrl: link.url }));
    // The credential holds the server it enrolled with; point it at the link too.
    const credentialFile = join(home.stateDir, 'device-credential.json');
    const credential = JSON.parse(await readFile(credentialFile, 'utf8')) as Record<
      string,
      unknown
    >;
    await writeFile(credentialFile, JSON.stringify({ ...credential, serverUrl: link.url }), {
      mode: 0o600,
    });

    const agent = startAgent(home);
    try {
      const waiting = await waitFor('a failed delivery', async () => {
        const s = await agentStatus(home);
        return s !== null && s.outbox.reports > 0 && s.lastDeliveryError !== null ? s : null;
      });
      expect(waiting.lastDeliveryAt).toBeNull();
      expect(waiting.deliveryFailures).toBeGreaterThanOrEqual(1);
      expect(Date.parse(waiting.nextDeliveryAttemptAt ?? '')).toBeGreaterThan(0);
      // What a technician at the device reads: why reports wait, and until when.
      const shown = await hallpass(home, ['status']);
      expect(shown.code).toBe(0);
      expect(shown.stdout).toMatch(/^Last delivery error\s+\S/m);
      expect(shown.stdout).toMatch(
        /^Next delivery attempt\s+\d{4}-\d\d-\d\dT\S+ \(after \d+ failed attempts?\)$/m,
      );
      expect(await receipts(deviceId)).toEqual([]);
      // What waited while the server was away, read from the outbox itself.
      const waited = await readOutboxFolder(outboxDir);
      expect(waited.items.map((item) => item.kind)).toContain('report');
      queued.add(waited);
      const t0 = Date.now();
      const app = await open();
      try {
        await waitFor('the outbox to drain', async () => {
          const s = await agentStatus(home);
          return (
            s !== null && s.outbox.reports + s.outbox.events === 0 && s.lastDeliveryAt !== null
          );
        });
        console.info(`delivered ${String(Date.now() - t0)} ms after the server came back`);
      } finally {
        await trust.serve(null);
        await app.close();
      }
    } finally {
      await stopAgent(agent);
      await link.close();
      await trust.close();
    }
    queued.add(await readOutboxFolder(outboxDir));
    // Every report the service queued is stored once, with the content it queued; nothing else.
    const stored = await server.db.query<{ id: string; body: unknown }>(
      'select id, body from reports where device_id = $1',
      [deviceId],
    );
    const reports = [...queued.items.values()].filter((item) => item.kind === 'report');
    expect(stored.map((r) => r.id).sort()).toEqual(reports.map((r) => r.id).sort());
    for (const report of reports) {
      expect(
        canonicalJson(stored.find((r) => r.id === report.id)?.body),
        `content of ${report.id}`,
      ).toBe(canonicalJson(report.payload));
    }
    expect((await receipts(deviceId)).sort()).toEqual(reports.map((r) => r.id).sort());
  });

  it('sets corrupt state files aside and still reports', async () => {
    const home = await agentHome({ serverUrl: url, enrolmentToken: server.token });
    await mkdir(join(home.stateDir, 'outbox'), { recursive: true });
    await mkdir(join(home.stateDir, 'policy'), { recursive: true });
    await writeFile(
      join(
        home.stateDir,
        'outbox',
        '000000000001-report-00000000-0000-4000-8000-000000000001.json',
      ),
      'garbage',
    );
    await writeFile(
      join(home.stateDir, 'policy', 'policy.json'),
      '{"etag": "x", "policy": {"schemaVersion": 99}',
    );
    await writeFile(join(home.stateDir, 'slow-checks.json'), '\u0000\u0001');
    await writeFile(join(home.stateDir, 'delivery-retry.json'), '{"failures": "many"}');
    const agent = startAgent(home);
    try {
      const status = await waitFor('a delivery despite corrupt files', async () => {
        const s = await agentStatus(home);
        return s?.lastDeliveryAt !== null && s?.outbox.reports === 0 ? s : null;
      });
      expect(status.policy.name).toBe('Pupil laptops');
      // ICT hears of each, as tamper events (only root can write these files).
      const events = await waitFor('the state-corrupt events at the server', async () => {
        const rows = await server.db.query<{ data: { store: string; detail: string } }>(
          "select data from events where device_id = $1 and type = 'tamper.state-corrupt' order by data->>'store', data->>'detail'",
          [status.deviceId],
        );
        return rows.length === 4 ? rows.map((row) => row.data) : null;
      });
      expect(events.map((event) => event.store)).toEqual([
        'outbox',
        'outbox',
        'policy-cache',
        'slow-check-cache',
      ]);
      expect(events[0]?.detail).toMatch(/^000000000001-report-.*\.corrupt-\d+\)$/);
      expect(events[1]?.detail).toMatch(/delivery-retry\.json: \/failures: /);
      expect(events[2]?.detail).toMatch(/policy\.json/);
      expect(events[3]?.detail).toMatch(/slow-checks\.json is not JSON/);
      expect(
        (await readdir(join(home.stateDir, 'outbox'))).some((f) => f.includes('.corrupt-')),
      ).toBe(true);
      expect(
        (await readdir(join(home.stateDir, 'policy'))).some((f) => f.includes('.corrupt-')),
      ).toBe(true);
    } finally {
      await stopAgent(agent);
    }
  });

  it('refuses to start, saying what to do, when the credential file is readable by others', async () => {
    const home = await agentHome({ serverUrl: url });
    expect((await hallpass(home, ['enroll', '--server', url, '--token', server.token])).code).toBe(
      0,
    );
    await chmod(join(home.stateDir, 'device-credential.json'), 0o644);
    const agent = startAgent(home);
    const code = await new Promise<number | null>((resolve) => agent.once('exit', resolve));
    expect(code).toBe(78);
    expect(agent.output()).toMatch(/chmod 600/);
  });

  it(
    'rejects a hostile policy, keeps the last good one and tells ICT',
    { timeout: 600_000 },
    async () => {
      // A web filter in the middle (or a broken server) answers the policy request with a
      // document that is not a valid policy; everything else passes through to the real server.
      const hostile = JSON.stringify({
        schemaVersion: 1,
        name: 'x',
        checks: { firewall: { required: 'no' } },
      });
      const proxy = createServer((request, response) => {
        if (request.url === '/api/v1/policy') {
          response.writeHead(200, { 'content-type': 'application/json', etag: '"hostile"' });
          response.end(hostile);
          return;
        }
        const upstream = httpRequest(
          `${url}${request.url ?? '/'}`,
          { method: request.method, headers: request.headers },
          (answer) => {
            response.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(response);
          },
        );
        request.pipe(upstream);
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      const proxyUrl = `http://127.0.0.1:${String((proxy.address() as AddressInfo).port)}`;
      const home = await agentHome({ serverUrl: proxyUrl, enrolmentToken: server.token });
      const agent = startAgent(home);
      try {
        const deviceId = await waitFor(
          'enrolment',
          async () => (await agentStatus(home))?.deviceId,
        );
        const event = await waitFor('the tamper event at the server', async () => {
          const rows = await server.db.query<{ data: { reason: string } }>(
            "select data from events where device_id = $1 and type = 'tamper.policy-rejected'",
            [deviceId],
          );
          return rows[0];
        });
        expect(event.data.reason).toMatch(/checks/);
        // Never enrolled a good policy, so the built-in default stays in force.
        expect((await agentStatus(home))?.policy).toEqual({ name: 'Hallpass default', version: 0 });
      } finally {
        await stopAgent(agent);
        proxy.close();
      }
    },
  );
});
