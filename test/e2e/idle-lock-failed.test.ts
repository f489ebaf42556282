// End to end: the real `hallpass service` process; a client on its socket floods it with
// idle:lock-failed and the outbox holds one `idle.lock-failed` event at once, naming the console
// user the service found, and (after a clean stop) one more with the count of the rest.
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

describe.skipIf(process.platform !== 'linux')('idle:lock-failed to the real service', () => {
  let home: AgentHome | undefined;
  afterAll(async () => {
    if (home !== undefined) {
      await rm(home.dir, { recursive: true, force: true });
    }
  });

  it('a flood becomes one event at once and one folded event with the count at stop', async () => {
    home = await agentHome({});
    const agent = startAgent(home);
    const ready = home;
    const outbox = join(ready.stateDir, 'outbox');
    const failedEvents = async () =>
      (await readOutboxFolder(outbox)).items.filter(
        (item) => item.kind === 'event' && item.payload.type === 'idle.lock-failed',
      );
    try {
      await waitFor('the service to answer', async () => (await agentStatus(ready)) ?? null);
      const answers = await exchange(
        ready.ipcPath,
        'proven',
        [
          '{"id":1,"channel":"idle:lock-failed","kind":"lock-failed","reason":"x","user":"head"}\n',
          ...Array.from(
            { length: 50 },
            (_, i) =>
              `{"id":${i + 2},"channel":"idle:lock-failed","kind":"lock-failed","reason":"loginctl: exit ${i}"}\n`,
          ),
        ],
        51,
      );
      expect(answers.filter((a) => a.includes('"ok":true'))).toHaveLength(50);
      expect(answers.filter((a) => a.includes('invalid request'))).toHaveLength(1);
      const first = await waitFor('the idle.lock-failed event', async () => {
        const found = await failedEvents();
        return found.length > 0 ? found : null;
      });
      expect(first).toHaveLength(1);
    } finally {
      await stopAgent(agent);
    }
    const expectedUser =
      (
        await consoleUserSourceFor('linux', realHost)
          .current()
          .catch(() => null)
      )?.name ?? null;
    const events = await failedEvents();
    // Requests on one connection are answered concurrently, so which reason comes first is the
    // service's order, not the client's; every report is counted once.
    const data = events.map((e) => e.payload.data as Record<string, unknown>);
    expect(data.map(({ user, kind, count }) => ({ user, kind, count }))).toEqual([
      { user: expectedUser, kind: 'lock-failed', count: 1 },
      { user: expectedUser, kind: 'lock-failed', count: 49 },
    ]);
    for (const { reason } of data) {
      expect(reason).toMatch(/^loginctl: exit \d+$/);
    }
  });
});
