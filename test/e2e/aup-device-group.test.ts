// AUP rules by device group, end to end: the server names the device's group beside its policy,
// the service keeps it, and a rule that names the group gives the console user their role. The
// group's policy here gives the pupil AUP only by device group (no default role), so the pupil
// is asked to sign only once the device knows its group; a restarted service still knows it.
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPolicyFile } from '../../agent/core/policy/policy-file.ts';
import { runService, type RunningService } from '../../agent/service/run-service.ts';
import { uploadPolicy } from '../../server/store/policies.ts';
import { waitFor, hostAgentConfig } from '../helpers/agent-process.ts';
import { CONSOLE_SESSION, consoleSessionHost } from '../helpers/console-session.ts';
import { testEngines } from '../helpers/databases.ts';
import { askProven } from '../helpers/ipc-peer.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

const engine = testEngines.find((e) => e.name === 'pglite');

describe.skipIf(process.platform !== 'linux')(
  'AUP rules by device group',
  { timeout: 600_000 },
  () => {
    let server: TestServer;
    let home: string;
    let running: RunningService | undefined;
    let url: string;

    beforeAll(async () => {
      if (engine === undefined) {
        throw new Error('no PGlite engine');
      }
      server = await startTestServer(engine);
      // The test server's group is "Pupil laptops": only a rule naming it makes anyone a pupil.
      const example = await readPolicyFile(
        new URL('../../agent/core/policy/example-policy.yaml', import.meta.url).pathname,
      );
      await server.db.transaction((tx) =>
        uploadPolicy(tx, {
          groupId: server.groupId,
          policy: {
            ...example,
            aup: {
              ...example.aup,
              defaultRole: 'none',
              rules: [{ id: 'pupil-laptops', role: 'pupil', deviceGroups: ['pupil LAPTOPS'] }],
            },
          },
          uploadedBy: null,
        }),
      );
      await server.app.listen({ host: '127.0.0.1', port: 0 });
      url = `http://127.0.0.1:${String((server.app.server.address() as AddressInfo).port)}`;
      home = await mkdtemp(join(tmpdir(), 'hallpass-aup-group-'));
    });

    afterAll(async () => {
      await running?.stop();
      await server.close();
      await rm(home, { recursive: true, force: true });
    });

    const start = async () =>
      runService({
        os: 'linux',
        host: await consoleSessionHost([]),
        config: hostAgentConfig({
          serverUrl: url,
          enrolmentToken: server.token,
          stateDir: join(home, 'state'),
          ipcPath: join(home, 'agent.sock'),
          heartbeatMinutes: 1,
        }),
        agentVersion: '0.0.0-test',
        checks: [],
      });

    const pending = () =>
      waitFor('the pupil AUP by device group', async () => {
        const answer = await askProven(join(home, 'agent.sock'), { channel: 'aup:pending' });
        return answer.ok && answer.aup !== undefined && answer.aup.documents.length > 0
          ? answer.aup
          : null;
      });

    it('gives the pupil role on a device of the named group, and keeps it across a restart', async () => {
      running = await start();
      const first = await pending();
      expect(first).toMatchObject({ user: CONSOLE_SESSION.user, role: 'pupil' });
      expect(first.documents.map((d) => d.id)).toEqual(['pupil-aup']);

      // Restarted offline (the server gone): the group is remembered with the cached policy.
      await running.stop();
      await server.app.close();
      running = await start();
      const again = await pending();
      expect(again.role).toBe('pupil');
    });
  },
);
