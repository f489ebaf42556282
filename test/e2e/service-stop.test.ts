// Stopping the service is never silent (issue 17): the real `hallpass service` process, stopped
// with SIGTERM as systemd stops it, tells the real server `tamper.agent-stopped` before it exits;
// with the server unreachable the notice waits in the outbox and goes after the next start.
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../server/app.ts';
import { defaultServerConfig } from '../../server/config.ts';
import { testEngines } from '../helpers/databases.ts';
import { readOutboxFolder } from '../helpers/outbox-folder.ts';
import { startSwitchableServer } from '../helpers/switchable-server.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';
import {
  agentHome,
  agentStatus,
  startAgent,
  stopAgent,
  waitFor,
  type AgentHome,
} from '../helpers/agent-process.ts';
import { join } from 'node:path';

const engine = testEngines.find((e) => e.name === 'pglite');

describe('a clean stop of the service', { timeout: 300_000 }, () => {
  let server: TestServer;
  let url: string;
  beforeAll(async () => {
    if (engine === undefined) {
      throw new Error('no PGlite engine');
    }
    server = await startTestServer(engine);
    await server.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${String((server.app.server.address() as AddressInfo).port)}`;
  });
  afterAll(() => server.close());

  const stopEvents = (deviceId: string) =>
    server.db.query<{ data: { detail: string } }>(
      `select data from events where device_id = $1 and type = 'tamper.agent-stopped'`,
      [deviceId],
    );

  /** Starts the agent and waits until it has enrolled and delivered its first report. */
  async function enrolledAgent(home: AgentHome) {
    const agent = startAgent(home);
    const status = await waitFor('the first delivery', async () => {
      const s = await agentStatus(home);
      return s?.lastDeliveryAt !== null && s?.outbox.reports === 0 ? s : null;
    });
    return { agent, deviceId: status.deviceId ?? '' };
  }

  it('sends tamper.agent-stopped, saying it was SIGTERM, before the process exits', async () => {
    const token = await server.newToken();
    const home = await agentHome({ serverUrl: url, enrolmentToken: token.token });
    const { agent, deviceId } = await enrolledAgent(home);
    expect(await stopEvents(deviceId)).toEqual([]);

    expect(await stopAgent(agent)).toBe(0);
    // Read after the exit: the notice reached the server while the process was stopping.
    const events = await stopEvents(deviceId);
    expect(events.map((e) => e.data.detail)).toEqual([expect.stringMatching(/SIGTERM/)]);
    expect((await readOutboxFolder(join(home.stateDir, 'outbox'))).items).toEqual([]);
  });

  it('keeps the notice in the outbox when the server is unreachable, and sends it after the next start', async () => {
    // A second server instance on the same database plays "the trust's server": it goes away
    // while the device runs and comes back at the same address, held throughout
    // (switchable-server.ts).
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
    let app = await open();
    const token = await server.newToken();
    const home = await agentHome({
      serverUrl: trust.url,
      enrolmentToken: token.token,
    });
    const { agent, deviceId } = await enrolledAgent(home);

    await trust.serve(null);
    await app.close();
    expect(await stopAgent(agent)).toBe(0);
    const queued = (await readOutboxFolder(join(home.stateDir, 'outbox'))).items
      .map((item) => item.payload)
      .filter((payload) => payload.type === 'tamper.agent-stopped');
    expect(queued).toHaveLength(1);
    expect(await stopEvents(deviceId)).toEqual([]);

    app = await open();
    const again = startAgent(home);
    try {
      const events = await waitFor('the queued stop notice on the server', async () => {
        const found = await stopEvents(deviceId);
        return found.length > 0 ? found : null;
      });
      expect(events).toHaveLength(1);
    } finally {
      await stopAgent(again);
      await trust.close();
      await app.close();
    }
  });
});
