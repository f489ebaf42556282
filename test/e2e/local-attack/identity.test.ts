// Local attack on the device's identity (issue 12): the real service runs as root against the
// real server; a real unprivileged account (the pupil) tries to read the enrolment token, takes
// the device id from `hallpass status --json` and the machine id from `hallpass facts`, and tries
// to replace the device with `hallpass enroll --replace` and with a hand-made request. It fails,
// and the real device keeps reporting. Root's own replacement, proved by the key, still works,
// and the replaced service then says so.
import { chmod, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipcRequest } from '../../../agent/service/ipc-server.ts';
import type { AgentStatus } from '../../../shared/index.ts';
import {
  agentStatus,
  hallpass,
  startAgent,
  stopAgent,
  waitFor,
  writeAgentConfig,
  type AgentHome,
} from '../../helpers/agent-process.ts';
import { testEngines } from '../../helpers/databases.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { canAttackAsPupil, createPupil, type Pupil } from '../../helpers/unprivileged-user.ts';

const cli = new URL('../../../agent/cli.ts', import.meta.url).pathname;
const engine = testEngines.find((e) => e.name === 'pglite');

/** A device home laid out like /etc/hallpass: the folder readable, agent.json root-only. */
async function deviceHome(settings: Record<string, unknown>): Promise<AgentHome> {
  const dir = await mkdtemp(join(tmpdir(), 'hallpass-identity-'));
  // mkdtemp makes 0700; /etc/hallpass is 0755, so the pupil may look in, as on a device.
  await chmod(dir, 0o755);
  const home = {
    dir,
    stateDir: join(dir, 'state'),
    configFile: join(dir, 'agent.json'),
    ipcPath: join(dir, 'agent.sock'),
  };
  await writeAgentConfig(home, settings);
  return home;
}

/** A hand-made enrolment as the pupil's own copy would send it: any body, no signature. */
const HAND_MADE_ENROL = `
import { generateKeyPairSync } from 'node:crypto';
const [url, token, replaces, factsJson] = process.argv.slice(1);
const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const body = {
  schemaVersion: 1,
  token,
  publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64url'),
  facts: JSON.parse(factsJson),
  replaces,
};
const answer = await fetch(url + '/api/v1/enroll', {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
console.log(JSON.stringify({ status: answer.status, body: await answer.json() }));
`;

describe.skipIf(!canAttackAsPupil('identity'))(
  'a pupil cannot take over the device identity',
  { timeout: 180_000 },
  () => {
    let server: TestServer;
    let url: string;
    let pupil: Pupil;
    let home: AgentHome;
    let agent: ReturnType<typeof startAgent>;
    let token: string;
    let deviceId: string;

    const asPupil = (args: string[]) => pupil.run(process.execPath, [cli, ...args]);
    /**
     * Polls the service's status until `done` holds of it. The service's heartbeat (every minute
     * here, `heartbeatMinutes: 1`) is a signed request, so it proves the identity still works or
     * hears why not; `checks:run` is rate-limited per socket and reports only changes.
     */
    const passUntil = (what: string, done: (s: AgentStatus) => Promise<boolean> | boolean) =>
      waitFor(
        what,
        async () => {
          const answer = await ipcRequest(home.ipcPath, 'status:get', 120_000);
          return answer.ok && (await done(answer.status)) ? answer.status : null;
        },
        280_000,
      );

    beforeAll(async () => {
      if (engine === undefined) {
        throw new Error('no PGlite engine');
      }
      server = await startTestServer(engine);
      await server.app.listen({ host: '127.0.0.1', port: 0 });
      url = `http://127.0.0.1:${String((server.app.server.address() as AddressInfo).port)}`;
      pupil = await createPupil();
      // A token for this device only, as an installer would drop it.
      token = (await server.newToken({ maxUses: 1 })).token;
      home = await deviceHome({ serverUrl: url, enrolmentToken: token, heartbeatMinutes: 1 });
      agent = startAgent(home);
      const status = await waitFor(
        'the device to enrol and deliver',
        async () => {
          const s = await agentStatus(home);
          return s?.enrolled === true && s.lastDeliveryAt !== null ? s : null;
        },
        120_000,
      );
      deviceId = status.deviceId ?? '';
    }, 180_000);
    afterAll(async () => {
      await stopAgent(agent);
      await pupil.remove();
      await server.close();
    });

    it('the token is not readable by the pupil, and is gone from disk once spent', async () => {
      const read = await pupil.run('cat', [home.configFile]);
      expect(read.code).not.toBe(0);
      expect(read.stderr).toMatch(/Permission denied/);
      // Spent at the first enrolment: removed from agent.json, only its hash kept, root-only.
      const config = await readFile(home.configFile, 'utf8');
      expect(config).not.toContain(token);
      expect(JSON.parse(config)).not.toHaveProperty('enrolmentToken');
      const state = await readdir(home.stateDir);
      for (const name of state) {
        if (!name.endsWith('.json')) {
          continue;
        }
        expect(await readFile(join(home.stateDir, name), 'utf8')).not.toContain(token);
      }
    });

    it('hallpass status works for the pupil without reading the root-only agent.json', async () => {
      const shown = await asPupil(['status', '--json', '--ipc', home.ipcPath]);
      expect(shown.stderr).toBe('');
      expect(shown.code).toBe(0);
      expect((JSON.parse(shown.stdout) as AgentStatus).deviceId).toBe(deviceId);
    });

    it('hallpass enroll --replace as the pupil, with the device id and a valid token, fails', async () => {
      // Worst case: the pupil has a valid token of the same school (from another machine).
      const leaked = (await server.newToken()).token;
      const ownState = join(pupil.home, 'state');
      const ownConfig = join(pupil.home, 'agent.json');
      const noKey = await asPupil([
        'enroll',
        '--replace',
        '--config',
        ownConfig,
        '--state-dir',
        ownState,
      ]);
      expect(noKey.code).toBe(78);
      expect(noKey.stderr).toMatch(/no device credential .* to prove which device this is/);

      const attempt = await asPupil([
        'enroll',
        '--replace',
        '--device',
        deviceId,
        '--server',
        url,
        '--token',
        leaked,
        '--config',
        ownConfig,
        '--state-dir',
        ownState,
      ]);
      expect(attempt.code).toBe(78);
      expect(attempt.stderr).toMatch(
        /refused enrolment: Replacing an enrolled device needs its current key/,
      );

      // The pupil's own copy, sending whatever it likes: the same machine id, the device id.
      const facts = await asPupil(['facts', '--json']);
      expect(facts.code).toBe(0);
      const handMade = await pupil.run(process.execPath, [
        '--input-type=module',
        '-e',
        HAND_MADE_ENROL,
        url,
        leaked,
        deviceId,
        facts.stdout,
      ]);
      expect(JSON.parse(handMade.stdout)).toMatchObject({
        status: 403,
        body: { error: 'replacement-not-allowed' },
      });

      const rows = await server.db.query<{ retired: boolean }>(
        'select retired_at is not null as retired from devices where id = $1',
        [deviceId],
      );
      expect(rows).toEqual([{ retired: false }]);
      const seen = async () =>
        (
          await server.db.query<{ at: string }>(
            'select last_seen_at::text as at from devices where id = $1',
            [deviceId],
          )
        )[0]?.at ?? '';
      const before = await seen();
      const status = await passUntil(
        'another signed request from the real device accepted',
        async () => (await seen()) !== before,
      );
      expect(status.lastDeliveryError).toBeNull();
      expect(status.deviceId).toBe(deviceId);
    });

    it('a config file holding a token that others can read stops the service, naming the fix', async () => {
      const loose = await deviceHome({
        serverUrl: url,
        enrolmentToken: (await server.newToken()).token,
      });
      await chmod(loose.configFile, 0o644);
      const started = await hallpass(loose, ['service']);
      expect(started.code).toBe(78);
      expect(started.stderr).toContain(`chmod 600 ${loose.configFile}`);
    });

    it("root's replacement, proved by the device key, works; the replaced service says so", async () => {
      // Run last: it retires the device the service above still holds in memory.
      const replaced = await hallpass(home, ['enroll', '--replace']);
      expect(replaced.stderr).toBe('');
      expect(replaced.code).toBe(0);
      const newId = /device ([0-9a-f-]{36})/.exec(replaced.stdout)?.[1] ?? '';
      expect(newId).not.toBe(deviceId);
      const status = await passUntil(
        'the retired service to hear why',
        (s) => s.lastDeliveryError?.includes('was replaced') === true,
      );
      expect(status.lastDeliveryError).toContain(newId);
      const events = await server.db.query<{ type: string }>(
        'select type from events where device_id = $1',
        [deviceId],
      );
      expect(events.map((e) => e.type)).toContain('device.replaced');
    });
  },
);

describe('a spent enrolment token', { timeout: 240_000 }, () => {
  it('is never sent again, even when configuration management puts it back', async () => {
    if (engine === undefined) {
      throw new Error('no PGlite engine');
    }
    const server = await startTestServer(engine);
    try {
      await server.app.listen({ host: '127.0.0.1', port: 0 });
      const url = `http://127.0.0.1:${String((server.app.server.address() as AddressInfo).port)}`;
      const { id, token } = await server.newToken();
      const settings = { serverUrl: url, enrolmentToken: token };
      const home = await deviceHome(settings);
      let agent = startAgent(home);
      await waitFor(
        'the first enrolment',
        async () => (await agentStatus(home))?.enrolled === true,
        120_000,
      );
      await stopAgent(agent);
      // The credential is lost and the old agent.json (token and all) comes back.
      await rm(join(home.stateDir, 'device-credential.json'));
      await writeAgentConfig(home, settings);
      agent = startAgent(home);
      try {
        const status = await waitFor(
          'the service to refuse the spent token',
          async () => {
            const s = await agentStatus(home);
            return s?.lastDeliveryError?.includes('already enrolled with the configured') === true
              ? s
              : null;
          },
          120_000,
        );
        expect(status.enrolled).toBe(false);
      } finally {
        await stopAgent(agent);
      }
      const devices = await server.db.query('select id from devices where enrolled_via = $1', [id]);
      expect(devices).toHaveLength(1);
    } finally {
      await server.close();
    }
  });
});
