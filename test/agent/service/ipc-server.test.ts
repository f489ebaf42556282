import { connect } from 'node:net';
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../../../shared/index.ts';
import { ipcRequest, startIpcServer } from '../../../agent/service/ipc-server.ts';

const status: AgentStatus = {
  agentVersion: '0.1.0',
  enrolled: false,
  deviceId: null,
  serverUrl: null,
  policy: { name: 'Hallpass default', version: 0 },
  lastCheckAt: null,
  lastReportQueuedAt: null,
  lastDeliveryAt: null,
  lastDeliveryError: null,
  deliveryFailures: 0,
  nextDeliveryAttemptAt: null,
  outbox: { reports: 0, events: 0 },
  results: [],
};

/** Sends raw bytes and returns the first line of the answer. */
function raw(path: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(path, () => socket.write(text));
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      if (buffer.includes('\n')) {
        socket.end();
        resolve(buffer.slice(0, buffer.indexOf('\n')));
      }
    });
    socket.on('error', reject);
  });
}

describe('service IPC', () => {
  let path: string;
  let close: () => Promise<void>;
  let runs = 0;
  beforeAll(async () => {
    path = join(await mkdtemp(join(tmpdir(), 'hallpass-ipc-')), 'agent.sock');
    close = await startIpcServer(path, {
      status: () => status,
      runChecks: () => {
        runs++;
        return Promise.resolve([]);
      },
    });
  });
  afterAll(() => close());

  it('answers status:get with the status, validated on the client side', async () => {
    expect(await ipcRequest(path, 'status:get')).toEqual({ id: 1, ok: true, status });
  });

  it('runs checks on request, at most once per 30 seconds however often the tray asks', async () => {
    await ipcRequest(path, 'checks:run');
    await ipcRequest(path, 'checks:run');
    expect(runs).toBe(1);
  });

  it('lets any local user connect (the tray runs as the signed-in user)', async () => {
    expect((await stat(path)).mode & 0o777).toBe(0o666);
  });

  it.each([
    ['not JSON', 'hello\n', /not JSON/],
    [
      'an unknown channel',
      '{"id":7,"channel":"secrets:read"}\n',
      /"id":7.*invalid request.*\/channel/,
    ],
    [
      'an extra field',
      '{"id":8,"channel":"status:get","as":"root"}\n',
      /invalid request.*\/as: unknown key/,
    ],
  ])('refuses %s with an error answer', async (_name, text, expected) => {
    expect(await raw(path, text)).toMatch(expected);
  });

  it('refuses an over-long request without reading it all', async () => {
    expect(await raw(path, 'x'.repeat(10_000))).toMatch(/too long/);
  });

  it('a client asking a socket where nothing listens gets a clear rejection', async () => {
    await expect(
      ipcRequest(join(tmpdir(), 'no-such-hallpass.sock'), 'status:get', 1000),
    ).rejects.toThrow(/ENOENT|ECONNREFUSED/);
  });
});
