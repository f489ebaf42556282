// End to end: the real server on a real port (PGlite) and the real service composed in this
// process, a console session from logind's parsed output. The pupil signs while the device
// cannot deliver; once the network is back the signature reaches the server exactly once, even
// when the server's answer to the batch that carried it is lost on the way back.
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runService, type RunningService } from '../../agent/service/run-service.ts';
import { aupTextSha256 } from '../../shared/index.ts';
import { CONSOLE_SESSION, consoleSessionHost } from '../helpers/console-session.ts';
import { askProven } from '../helpers/ipc-peer.ts';
import { startControlledLink, type ControlledLink } from '../helpers/controlled-link.ts';
import { testEngines } from '../helpers/databases.ts';
import { readOutboxFolder } from '../helpers/outbox-folder.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';
import { waitFor, hostAgentConfig } from '../helpers/agent-process.ts';

const engine = testEngines.find((e) => e.name === 'pglite');

describe.skipIf(process.platform !== 'linux')(
  'AUP from the console session to the server',
  { timeout: 600_000 },
  () => {
    let server: TestServer;
    let link: ControlledLink;
    let home: string;
    let running: RunningService | undefined;
    let deliveries: 'refused' | 'lose-answer-once' | 'pass' = 'pass';
    let answersLost = 0;

    beforeAll(async () => {
      if (engine === undefined) {
        throw new Error('no PGlite engine');
      }
      server = await startTestServer(engine);
      await server.app.listen({ host: '127.0.0.1', port: 0 });
      const url = `http://127.0.0.1:${String((server.app.server.address() as AddressInfo).port)}`;
      link = await startControlledLink(url, (body) => {
        if (deliveries === 'refused') {
          return Promise.resolve({ holdAt: 'before-server' });
        }
        if (deliveries === 'lose-answer-once' && body.toString('utf8').includes('aup.accepted')) {
          deliveries = 'pass';
          answersLost++;
          return Promise.resolve({ holdAt: 'after-server' });
        }
        return Promise.resolve({ holdAt: null });
      });
      home = await mkdtemp(join(tmpdir(), 'hallpass-aup-e2e-'));
    });

    afterAll(async () => {
      await running?.stop();
      await link.close();
      await server.close();
      await rm(home, { recursive: true, force: true });
    });

    it('a signature made offline is delivered once, with the hash of the text shown', async () => {
      const ipcPath = join(home, 'agent.sock');
      running = await runService({
        os: 'linux',
        host: await consoleSessionHost([]),
        config: hostAgentConfig({
          serverUrl: link.url,
          enrolmentToken: server.token,
          stateDir: join(home, 'state'),
          ipcPath,
          deliveryRetryBaseSeconds: 1,
          deliveryRetryCapSeconds: 2,
          heartbeatMinutes: 1,
        }),
        agentVersion: '0.0.0-test',
        checks: [],
      });
      // Enrolled, and the group's policy (the example: a pupil AUP) arrived from the server.
      const pending = await waitFor('the pupil AUP from the server policy', async () => {
        const answer = await askProven(ipcPath, { channel: 'aup:pending' });
        return answer.ok && answer.aup !== undefined && answer.aup.documents.length > 0
          ? answer.aup
          : null;
      });
      expect(pending.user).toBe(CONSOLE_SESSION.user);
      const document = pending.documents[0];
      if (document === undefined) {
        throw new Error('nothing pending');
      }
      expect(document.textSha256).toBe(aupTextSha256(document));

      deliveries = 'refused';
      const signed = await askProven(ipcPath, {
        channel: 'aup:sign',
        documentId: document.id,
        textSha256: document.textSha256,
        acknowledged: document.statements.map((_, i) => i),
        fullName: 'Pupil Forty-Two',
        tutorGroup: '4C',
        parentCarer: 'A. Carer',
      });
      expect(signed).toMatchObject({ ok: true, aup: { documents: [] } });
      const queued = (await readOutboxFolder(join(home, 'state', 'outbox'))).items.filter(
        (item) => item.payload.type === 'aup.accepted',
      );
      expect(queued).toHaveLength(1);
      const accepted = async () =>
        server.db.query<{ id: string; data: Record<string, unknown> }>(
          `select id, data from events where type = 'aup.accepted'`,
        );
      expect(await accepted()).toEqual([]);

      deliveries = 'lose-answer-once';
      await waitFor('the outbox to empty of the signature', async () => {
        const left = (await readOutboxFolder(join(home, 'state', 'outbox'))).items.filter(
          (item) => item.payload.type === 'aup.accepted',
        );
        return left.length === 0;
      });
      expect(answersLost).toBe(1);
      const rows = await accepted();
      expect(rows).toHaveLength(1);
      expect(rows[0]?.id).toBe(queued[0]?.id);
      expect(rows[0]?.data).toMatchObject({
        user: CONSOLE_SESSION.user,
        documentId: document.id,
        version: document.version,
        textSha256: document.textSha256,
        fullName: 'Pupil Forty-Two',
        tutorGroup: '4C',
        parentCarer: 'A. Carer',
      });
    });
  },
);
