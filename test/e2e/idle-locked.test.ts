// End to end: the real `hallpass service` process; a client on its socket reports an idle lock
// and the service's outbox holds one `idle.locked` event naming the console user the service
// found on this machine, however many times the client repeats itself.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { consoleUserSourceFor } from '../../agent/core/console-user/index.ts';
import { realHost } from '../../agent/core/host.ts';
import { exchange } from '../helpers/ipc-service.ts';
import { readOutboxFolder } from '../helpers/outbox-folder.ts';
import {
  agentHome,
  agentStatus,
  startAgent,
  stopAgent,
  waitFor,
  type AgentHome,
} from '../helpers/agent-process.ts';

describe.skipIf(process.platform !== 'linux')('idle:locked to the real service', () => {
  let home: AgentHome | undefined;
  afterAll(async () => {
    if (home !== undefined) {
      await rm(home.dir, { recursive: true, force: true });
    }
  });

  it('records one idle.locked with the user the service found, not the one the client claims', async () => {
    home = await agentHome({});
    const agent = startAgent(home);
    try {
      const ready = home;
      await waitFor('the service to answer', async () => (await agentStatus(ready)) ?? null);
      const answers = await exchange(
        home.ipcPath,
        'proven',
        [
          '{"id":1,"channel":"idle:locked","idleSeconds":900,"user":"headteacher"}\n',
          ...Array.from(
            { length: 50 },
            (_, i) => `{"id":${i + 2},"channel":"idle:locked","idleSeconds":900}\n`,
          ),
        ],
        51,
      );
      expect(answers.filter((a) => a.includes('"ok":true'))).toHaveLength(1);
      const outbox = join(ready.stateDir, 'outbox');
      const events = await waitFor('the idle.locked event', async () => {
        const found = (await readOutboxFolder(outbox)).items.filter(
          (item) => item.kind === 'event' && item.payload.type === 'idle.locked',
        );
        return found.length > 0 ? found : null;
      });
      const expectedUser =
        (
          await consoleUserSourceFor('linux', realHost)
            .current()
            .catch(() => null)
        )?.name ?? null;
      expect(events.map((e) => e.payload.data)).toEqual([{ user: expectedUser, idleSeconds: 900 }]);
    } finally {
      await stopAgent(agent);
    }
  });
});
