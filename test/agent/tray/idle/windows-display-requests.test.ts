// The Windows idle desktop counting display power requests, from real parts: the tray's real
// ServiceClient (proving its user, as the tray does) asks a real service socket, whose cache reads
// the real parser through a recorded Runner (powercfg cannot run here); the session helper is the
// PowerShell stand-in (windows.test.ts). A request held is an inhibitor; an unknown answer is no
// inhibitor, and says why; the controller still locks at the policy's ceiling.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { displayRequestSourceFor } from '../../../../agent/core/idle-lock/power-requests/index.ts';
import type { Runner } from '../../../../agent/core/runner.ts';
import { DisplayRequestCache } from '../../../../agent/service/display-requests.ts';
import { IdleLockController } from '../../../../agent/tray/idle/controller.ts';
import {
  mergeInhibitors,
  type IdleDesktop,
  type InhibitorState,
  type Reading,
} from '../../../../agent/tray/idle/desktop.ts';
import { idleLockTimings } from '../../../../agent/tray/idle/idle-lock.ts';
import { LineChild } from '../../../../agent/tray/idle/line-child.ts';
import { spawnLockCommand } from '../../../../agent/tray/idle/lock-command.ts';
import {
  displayRequestsReading,
  serviceDisplayRequests,
  windowsIdleDesktop,
} from '../../../../agent/tray/idle/windows.ts';
import { ServiceClient } from '../../../../agent/tray/service-client.ts';
import { trayHandshake } from '../../../../agent/tray/service-handshake.ts';
import { waitFor } from '../../../helpers/agent-process.ts';
import { startServiceSocket } from '../../../helpers/ipc-service.ts';
import { ManualClock, settle } from '../../../helpers/manual-clock.ts';

const standin = fileURLToPath(new URL('./powershell-standin.ts', import.meta.url));
const idleFixture = (name: string) =>
  fileURLToPath(new URL(`../../../fixtures/windows/idle-lock/${name}`, import.meta.url));
const powercfgOutput = (name: string) =>
  readFileSync(
    new URL(`../../../fixtures/windows/power-requests/${name}`, import.meta.url),
    'utf8',
  ).replace(/\n/g, '\r\n');

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

/** A service answering idle:display-requests from `stdout` (switchable), and a tray client. */
async function serviceAndClient(stdout: string, exitCode = 0) {
  const powercfg = { stdout, exitCode, runs: 0, hold: null as Promise<void> | null };
  const run: Runner = async () => {
    powercfg.runs++;
    await powercfg.hold;
    return { stdout: powercfg.stdout, stderr: '', exitCode: powercfg.exitCode };
  };
  // No cache time: each tray reading reaches powercfg's (recorded) output afresh.
  const cache = new DisplayRequestCache({
    source: displayRequestSourceFor('windows', run),
    now: () => new Date(),
    cacheMs: 0,
  });
  const { path, close } = await startServiceSocket({ displayRequests: () => cache.read() });
  cleanups.push(close);
  const client = new ServiceClient({
    path,
    listener: { state: () => undefined, status: () => undefined, push: () => undefined },
    onConnect: trayHandshake('linux', path),
    backoff: { baseMs: 50, capMs: 200, jitter: 0 },
  });
  client.start();
  cleanups.push(() => {
    client.stop();
  });
  await waitFor('connected', () => Promise.resolve(client.state === 'connected' || null));
  return { powercfg, client };
}

/** The Windows desktop with the stand-in helper answering `state` from `stateFile`. */
function desktop(
  stateFile: string,
  displayRequests?: () => Promise<Reading<InhibitorState>>,
): IdleDesktop {
  const helper = new LineChild({
    command: process.execPath,
    args: [standin, 'serve', idleFixture(stateFile), idleFixture('constructed-lock-accepted.json')],
    env: { PATH: process.env.PATH ?? '' },
    now: () => 0,
    timeoutMs: 20_000,
  });
  cleanups.push(() => {
    helper.stop();
  });
  return windowsIdleDesktop({
    helper,
    runLock: spawnLockCommand,
    sleep: () => Promise.resolve(),
    ...(displayRequests === undefined ? {} : { displayRequests }),
  });
}

describe('the Windows idle desktop with display requests from the service', () => {
  it('a video holding the display is an inhibitor, named by program', async () => {
    const { client } = await serviceAndClient(powercfgOutput('homeassistant-video-wake-lock.txt'));
    const windows = desktop(
      'constructed-state-unlocked.json',
      serviceDisplayRequests((body) => client.answer(body)),
    );
    expect(await windows.readInhibitors()).toEqual({
      ok: true,
      value: {
        inhibited: true,
        holders: ['display: Home Assistant Desktop.exe (Video Wake Lock)'],
      },
    });
  }, 30_000);

  it('no display request and no presentation: not inhibited, nothing unread', async () => {
    const { client, powercfg } = await serviceAndClient(
      powercfgOutput('powerrequestwrapper-system.txt'),
    );
    const windows = desktop(
      'constructed-state-unlocked.json',
      serviceDisplayRequests((body) => client.answer(body)),
    );
    expect(await windows.readInhibitors()).toEqual({
      ok: true,
      value: { inhibited: false, holders: [] },
    });
    expect(powercfg.runs).toBe(1);
  }, 30_000);

  it('powercfg refused: no inhibitor, and the reading says why', async () => {
    const { client } = await serviceAndClient(powercfgOutput('not-administrator.txt'), 1);
    const windows = desktop(
      'constructed-state-unlocked.json',
      serviceDisplayRequests((body) => client.answer(body)),
    );
    expect(await windows.readInhibitors()).toEqual({
      ok: true,
      value: {
        inhibited: false,
        holders: [],
        unread:
          'display power requests: powercfg /requests: exit 1: This command requires administrator privileges and must be executed from an elevated command prompt.',
      },
    });
  }, 30_000);

  it('presentation mode still inhibits when the display requests are unknown', async () => {
    const { client } = await serviceAndClient(powercfgOutput('powertoys-ja.txt'));
    const windows = desktop(
      'constructed-state-presentation.json',
      serviceDisplayRequests((body) => client.answer(body)),
    );
    const reading = await windows.readInhibitors();
    expect(reading).toMatchObject({
      ok: true,
      value: { inhibited: true, holders: ['QUNS_PRESENTATION_MODE'] },
    });
    expect(reading.ok && reading.value.unread).toMatch(
      /^display power requests: unrecognised line in AWAYMODE/,
    );
  }, 30_000);

  it('a service that cannot be reached is no inhibitor, with the reason', async () => {
    const { client } = await serviceAndClient(powercfgOutput('autowall-mpv-display.txt'));
    client.stop();
    const windows = desktop(
      'constructed-state-unlocked.json',
      serviceDisplayRequests((body) => client.answer(body)),
    );
    expect(await windows.readInhibitors()).toEqual({
      ok: true,
      value: {
        inhibited: false,
        holders: [],
        unread:
          'display power requests: the service did not answer: the Hallpass service is not reachable',
      },
    });
  }, 30_000);

  it('a service slower than the limit is no inhibitor; once powercfg answers, it counts again', async () => {
    const { client, powercfg } = await serviceAndClient(powercfgOutput('autowall-mpv-display.txt'));
    let release: () => void = () => undefined;
    powercfg.hold = new Promise<void>((resolve) => (release = resolve));
    const ask = serviceDisplayRequests((body) => client.answer(body), 100);
    expect(await ask()).toEqual({
      ok: false,
      reason: 'the service did not answer within 100 ms',
    });
    release();
    expect(await ask()).toMatchObject({ ok: true, value: { inhibited: true } });
  }, 30_000);

  it('both sources unknown is unknown, naming both', async () => {
    const windows = desktop('constructed-state-calls-failed.json');
    expect(await windows.readInhibitors()).toEqual({
      ok: false,
      reason:
        'notification state: SHQueryUserNotificationState failed: HRESULT 0x80004005; ' +
        'display power requests: not read: no service to ask',
    });
  }, 30_000);
});

describe('displayRequestsReading and mergeInhibitors', () => {
  it('reads each answer shape; holders from the service are cut for the log', () => {
    expect(displayRequestsReading(undefined)).toEqual({
      ok: false,
      reason: 'the service sent no display requests',
    });
    expect(
      displayRequestsReading({
        known: true,
        held: true,
        holders: ['a\u0007b.exe'],
        readAt: '2026-12-06T09:00:00.000Z',
      }),
    ).toEqual({ ok: true, value: { inhibited: true, holders: ['display: a?b.exe'] } });
  });

  it('an unread source inside a merged source keeps its reason', () => {
    const inner = mergeInhibitors([
      ['a', { ok: true, value: { inhibited: false, holders: [] } }],
      ['b', { ok: false, reason: 'gone' }],
    ]);
    expect(mergeInhibitors([['outer', inner]])).toEqual({
      ok: true,
      value: { inhibited: false, holders: [], unread: 'outer: b: gone' },
    });
  });
});

describe('the controller with display requests', () => {
  const timings = idleLockTimings(
    {
      enabled: true,
      minutes: 1,
      warningSeconds: 10,
      exempt: { users: [], groups: [] },
      honourInhibitors: true,
      inhibitorCeilingMinutes: 3,
    },
    null,
  );

  /** A desktop idle since the start, whose inhibitors are the Windows merge of two readings. */
  function scripted(clock: ManualClock, display: Reading<InhibitorState>) {
    const start = clock.now().getTime();
    const locks: number[] = [];
    const desktop: IdleDesktop = {
      readIdleMs: () => Promise.resolve({ ok: true, value: clock.now().getTime() - start }),
      readInhibitors: () =>
        Promise.resolve(
          mergeInhibitors([
            ['notification state', { ok: true, value: { inhibited: false, holders: [] } }],
            ['display power requests', display],
          ]),
        ),
      lock: () => {
        locks.push(clock.now().getTime() - start);
        return Promise.resolve({
          ok: true,
          via: 'LockWorkStation',
          attempts: [{ command: 'LockWorkStation', ok: true, detail: 'ok' }],
        });
      },
    };
    return { desktop, locks };
  }

  async function run(display: Reading<InhibitorState>) {
    const clock = new ManualClock('2026-12-06T09:00:00Z');
    const script = scripted(clock, display);
    const failures: string[] = [];
    const controller = new IdleLockController({
      desktop: script.desktop,
      timings,
      now: () => clock.now().getTime(),
      timers: clock.timers,
      listener: {
        warning: () => undefined,
        locked: () => undefined,
        lockFailed: () => undefined,
        readingFailed: (what, reason) => failures.push(`${what}: ${reason}`),
      },
    });
    controller.start();
    await settle();
    for (let i = 0; i < 240; i++) {
      await clock.advance(1000);
    }
    await controller.stop();
    return { locks: script.locks, failures };
  }

  it('a display request held postpones the lock, but only to the ceiling', async () => {
    const { locks, failures } = await run({
      ok: true,
      value: { inhibited: true, holders: ['display: chrome.exe (Video Wake Lock)'] },
    });
    expect(locks).toHaveLength(1);
    expect(locks[0]).toBeGreaterThanOrEqual(180_000);
    expect(locks[0]).toBeLessThan(200_000);
    expect(failures).toEqual([]);
  });

  it('display requests unknown lock at the policy’s minutes, and the reason is told once', async () => {
    const { locks, failures } = await run({ ok: false, reason: 'powercfg /requests: exit 1: …' });
    expect(locks).toHaveLength(1);
    expect(locks[0]).toBeGreaterThanOrEqual(70_000);
    expect(locks[0]).toBeLessThan(80_000);
    expect(failures).toEqual(['inhibitors: display power requests: powercfg /requests: exit 1: …']);
  });
});
