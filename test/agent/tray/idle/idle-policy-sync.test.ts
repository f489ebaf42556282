// The tray's idle lock follows the policy the service resolves for the console user: the real
// IPC server (real socket, real peer proof) and the tray's real client and handshake, with the
// service's idle:policy handler built from the same function run-service uses. The policy and
// the console user change under it as a server delivery and a login would change them.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConsoleUser } from '../../../../agent/core/console-user/console-user.ts';
import { idleLockView } from '../../../../agent/core/idle-lock/idle-lock-view.ts';
import { startIpcServer } from '../../../../agent/service/ipc-server.ts';
import type { IdleLockTimings } from '../../../../agent/tray/idle/idle-lock.ts';
import { IdlePolicySync } from '../../../../agent/tray/idle/idle-policy-sync.ts';
import { ServiceClient } from '../../../../agent/tray/service-client.ts';
import { trayHandshake } from '../../../../agent/tray/service-handshake.ts';
import type { IdleLockPolicy } from '../../../../shared/index.ts';
import { waitFor } from '../../../helpers/agent-process.ts';
import { statusWith } from '../status-sample.ts';

const fastBackoff = { baseMs: 50, capMs: 200, jitter: 0 };

/** A service whose policy and console user the test changes; counts the idle:policy asks. */
async function service(path: string) {
  const state = {
    version: 1,
    idleLock: {
      enabled: true,
      minutes: 10,
      warningSeconds: 60,
      exempt: { users: [], groups: ['staff'] },
    } as IdleLockPolicy,
    user: { name: 'pupil.0042', groups: ['domain users'] } as ConsoleUser | null,
    asks: 0,
  };
  const close = await startIpcServer(path, {
    status: () => statusWith([], { policy: { name: 'Pupil laptops', version: state.version } }),
    runChecks: () => Promise.resolve(),
    consoleUser: { current: () => Promise.resolve(state.user) },
    trayHello: () => ({ release: () => undefined }),
    idlePolicy: () => {
      state.asks += 1;
      return Promise.resolve(idleLockView(state.idleLock, state.user));
    },
  });
  return { state, close };
}

/** The sync as the tray's main process wires it, recording what it applies and why it failed. */
function trayAt(path: string, handshake: boolean) {
  const applied: IdleLockTimings[] = [];
  const failures: string[] = [];
  // eslint-disable-next-line prefer-const -- the sync asks through the client built after it
  let client: ServiceClient;
  const sync = new IdlePolicySync({
    ask: async () => {
      const { idleLock } = await client.answer({ channel: 'idle:policy' });
      if (idleLock === undefined) {
        throw new Error('no idle-lock policy in the answer');
      }
      return idleLock;
    },
    apply: (timings) => applied.push(timings),
    failed: (reason) => failures.push(reason),
  });
  client = new ServiceClient({
    path,
    backoff: fastBackoff,
    pollMs: 100,
    listener: {
      state: (state) => {
        sync.connection(state);
      },
      status: (status) => {
        sync.status(status);
      },
      push: () => undefined,
    },
    ...(handshake ? { onConnect: trayHandshake('linux', path) } : {}),
  });
  return { client, sync, applied, failures };
}

describe.skipIf(process.platform !== 'linux')('IdlePolicySync against the real IPC server', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup();
    }
  });

  async function setUp(handshake = true) {
    const dir = await mkdtemp(join(tmpdir(), 'hallpass-idle-sync-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'agent.sock');
    const served = await service(path);
    let open = true;
    cleanups.push(async () => {
      if (open) {
        await served.close();
      }
    });
    const tray = trayAt(path, handshake);
    tray.client.start();
    cleanups.push(() => {
      tray.client.stop();
      return Promise.resolve();
    });
    const closeService = async () => {
      open = false;
      await served.close();
    };
    return { path, ...served, ...tray, closeService };
  }

  it('applies the service’s policy once, and again only when the policy changes', async () => {
    const { state, applied, client } = await setUp();
    await waitFor('the first idle policy', () => Promise.resolve(applied[0] ?? null));
    expect(applied[0]).toEqual({
      off: null,
      idleMs: 600_000,
      warningMs: 60_000,
      ceilingMs: 3_600_000,
      honourInhibitors: false,
    });
    // Statuses keep coming (and the client polls every 100 ms): the same policy is not asked again.
    for (let i = 0; i < 5; i += 1) {
      await client.request({ channel: 'status:get' });
    }
    expect(state.asks).toBe(1);

    // A delivery brings policy version 2, which puts the pupil's group in exempt.
    state.idleLock = { ...state.idleLock, exempt: { users: [], groups: ['Domain Users'] } };
    state.version = 2;
    await waitFor('the exemption', () => Promise.resolve(applied[1] ?? null));
    expect(applied[1]?.off).toBe('exempt');
    expect(state.asks).toBe(2);
  });

  it('an unchanged answer after a version change does not disturb the lock', async () => {
    const { state, applied } = await setUp();
    await waitFor('the first idle policy', () => Promise.resolve(applied[0] ?? null));
    state.version = 2; // a change to another part of the policy (USB, say)
    await waitFor('the second ask', () => Promise.resolve(state.asks >= 2 || null));
    expect(applied).toHaveLength(1);
  });

  it('keeps what it has while the service is away, and asks again when it is back', async () => {
    const { path, applied, failures, closeService, client } = await setUp();
    await waitFor('the first idle policy', () => Promise.resolve(applied[0] ?? null));
    await closeService();
    await waitFor('the tray to see the service gone', () =>
      Promise.resolve(client.state === 'unreachable' || null),
    );
    expect(applied).toHaveLength(1);

    // Back, with a shorter lock: the new connection is asked again.
    const back = await service(path);
    cleanups.push(back.close);
    back.state.idleLock = { ...back.state.idleLock, minutes: 3 };
    await waitFor('the policy from the returned service', () =>
      Promise.resolve(applied[1] ?? null),
    );
    expect(applied[1]?.idleMs).toBe(180_000);
    expect(failures).toEqual([]);
  });

  it('a connection that has not proven its user is refused, and the lock keeps the default', async () => {
    const { state, applied, failures } = await setUp(false);
    await waitFor('the refusal', () => Promise.resolve(failures[0] ?? null));
    expect(failures[0]).toMatch(/peer:challenge/);
    expect(applied).toEqual([]);
    expect(state.asks).toBe(0);
  });
});
