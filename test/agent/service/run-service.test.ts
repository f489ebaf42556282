// The composition root on this host: the USB guard's switch and the IPC subscription, wired for
// real (a real socket, the real policy cache and outbox in a temporary state folder). The guard
// stays off: a test on the developer's host must never change its USB authorisation.
import { connect } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultAgentConfig } from '../../../agent/core/config/agent-config.ts';
import { realHost } from '../../../agent/core/host.ts';
import { runService, type RunningService } from '../../../agent/service/run-service.ts';
import { IpcResponseSchema, validate } from '../../../shared/index.ts';

let running: RunningService | null = null;
let folder: string | null = null;
afterEach(async () => {
  await running?.stop();
  running = null;
  if (folder !== null) {
    await rm(folder, { recursive: true, force: true });
  }
});

/** Sends one request line and resolves with the first line answered. */
function request(path: string, line: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = connect(path, () => socket.write(line + '\n'));
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
  it('says the guard is off, and accepts an events:subscribe from the tray', async () => {
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
    const answer = await request(config.ipcPath, '{"id":5,"channel":"events:subscribe"}');
    expect(validate(IpcResponseSchema, answer).ok).toBe(true);
    expect(answer).toMatchObject({ id: 5, ok: true, status: { usb: { mode: 'audit' } } });
  }, 60_000);
});
