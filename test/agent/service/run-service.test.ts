// The composition root on this host, wired for real (a real socket, the real policy cache and
// outbox in a temporary state folder): the USB guard's switch and the IPC subscription, and what
// runService reports at start-up about state it would not trust (issue 12). The guard stays
// off: a test on the developer's host must never change its USB authorisation.
import { connect, type Socket } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultAgentConfig } from '../../../agent/core/config/agent-config.ts';
import { realHost } from '../../../agent/core/host.ts';
import { readDefaultPolicy } from '../../../agent/core/policy/policy-file.ts';
import { runService, type RunningService } from '../../../agent/service/run-service.ts';
import { IpcResponseSchema, validate } from '../../../shared/index.ts';
import { openProven } from '../../helpers/ipc-peer.ts';
import { readOutboxFolder } from '../../helpers/outbox-folder.ts';
import { hostAgentConfig } from '../../helpers/agent-process.ts';

let running: RunningService | null = null;
let folder: string | null = null;
const dirs: string[] = [];
afterEach(async () => {
  await running?.stop();
  running = null;
  if (folder !== null) {
    await rm(folder, { recursive: true, force: true });
  }
  for (const dir of dirs.splice(0)) {
    await rm(dir, { recursive: true, force: true });
  }
});

/** Sends one request line on `socket` and resolves with the first line answered. */
function request(socket: Socket, line: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    socket.write(line + '\n');
    socket.resume();
    let buffer = '';
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const newline = buffer.indexOf('\n');
      if (newline !== -1) {
        socket.destroy();
        resolve(JSON.parse(buffer.slice(0, newline)));
      }
    });
    socket.on('error', reject);
  });
}

describe('runService with the USB guard off', () => {
  it('says the guard is off, and accepts an events:subscribe from a proven connection only', async () => {
    folder = await mkdtemp(join(tmpdir(), 'hallpass-run-'));
    const config = {
      ...defaultAgentConfig('linux'),
      stateDir: join(folder, 'state'),
      ipcPath: join(folder, 'agent.sock'),
      logLevel: 'silent' as const,
      startupJitterSeconds: 0,
      usbGuard: false,
    };
    running = await runService({
      os: 'linux',
      host: realHost,
      config,
      agentVersion: '0.0.0-test',
      checks: [],
    });
    expect(running.service.status().usb).toEqual({
      mode: 'audit',
      problem: 'the USB guard is off in the agent configuration (usbGuard: false)',
      recent: [],
    });
    // Pushes name users: an unproven connection is refused, the proven one (root here) accepted.
    const subscribe = '{"id":5,"channel":"events:subscribe"}';
    const unproven = await new Promise<Socket>((resolve, reject) => {
      const socket = connect(config.ipcPath, () => {
        resolve(socket);
      });
      socket.on('error', reject);
    });
    expect(await request(unproven, subscribe)).toMatchObject({ id: 5, ok: false });
    const answer = await request(await openProven(config.ipcPath), subscribe);
    expect(validate(IpcResponseSchema, answer).ok).toBe(true);
    expect(answer).toMatchObject({ id: 5, ok: true, status: { usb: { mode: 'audit' } } });

    // The tray's idle lock runs on the policy in force (here the built-in default), resolved
    // for whoever logind says is at the console on this host.
    const idle = await request(
      await openProven(config.ipcPath),
      '{"id":6,"channel":"idle:policy"}',
    );
    expect(validate(IpcResponseSchema, idle).ok).toBe(true);
    const defaults = (await readDefaultPolicy()).idleLock;
    expect(idle).toMatchObject({
      id: 6,
      ok: true,
      idleLock: { minutes: defaults.minutes, warningSeconds: defaults.warningSeconds },
    });
    const { off } = (idle as { idleLock: { off: unknown } }).idleLock;
    expect(defaults.enabled ? [null, 'exempt'] : ['disabled']).toContain(off);

    // Display power requests exist only on Windows: the real service here answers unknown with
    // the reason, and runs nothing (there is no powercfg to run).
    const display = await request(
      await openProven(config.ipcPath),
      '{"id":7,"channel":"idle:display-requests"}',
    );
    expect(validate(IpcResponseSchema, display).ok).toBe(true);
    expect(display).toMatchObject({
      id: 7,
      ok: true,
      displayRequests: {
        known: false,
        reason: expect.stringMatching(/^unsupported: .*not linux$/) as unknown,
      },
    });
  }, 60_000);
});

describe.skipIf(process.platform === 'win32')('runService start-up reports', () => {
  it('turns ignored managed settings and a bad drop-counts file into tamper.state-corrupt', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hallpass-run-service-'));
    dirs.push(dir);
    const stateDir = join(dir, 'state');
    await mkdir(stateDir, { mode: 0o700 });
    await writeFile(join(stateDir, 'drop-counts.json'), 'not json', { mode: 0o600 });
    const running = await runService({
      os: 'linux',
      host: realHost,
      config: hostAgentConfig({
        stateDir,
        ipcPath: join(dir, 'agent.sock'),
      }),
      agentVersion: '0.1.0',
      checks: [],
      untrustedSettings: ['/etc/hallpass/managed.json has mode 0666; its settings were ignored'],
    });
    await running.stop();
    const events = (await readOutboxFolder(join(stateDir, 'outbox'))).items
      .map((item) => item.payload)
      .filter((payload) => payload.type === 'tamper.state-corrupt')
      .map((payload) => payload.data);
    expect(events).toEqual(
      expect.arrayContaining([
        {
          store: 'managed-settings',
          detail: expect.stringMatching(/managed\.json has mode 0666/) as unknown,
        },
        { store: 'outbox', detail: 'drop-counts.json: not JSON' },
      ]),
    );
  }, 60_000);
});
