import { connect, type Socket } from 'node:net';
import { chmod, chown, lchown, mkdir, mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { IpcResponseSchema, validate, type AgentStatus } from '../../../shared/index.ts';
import {
  ipcRequest,
  startIpcServer,
  type IpcHandlers,
  type IpcLimits,
} from '../../../agent/service/ipc-server.ts';
import { runningAsRoot } from '../../helpers/unprivileged-user.ts';

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
  passFailures: null,
  outbox: { reports: 0, events: 0 },
  results: [],
  usb: { mode: 'audit', problem: null, recent: [] },
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

/** Opens a connection and resolves once it is connected. */
function open(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path, () => {
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

const closed = (socket: Socket) =>
  new Promise<void>((resolve) => {
    if (socket.destroyed) {
      resolve();
    } else {
      socket.once('close', () => {
        resolve();
      });
    }
  });

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) {
    await cleanup();
  }
});

/** A server in its own folder, closed after the test. */
async function server(
  handlers: IpcHandlers,
  limits: Partial<IpcLimits> = {},
): Promise<{ path: string }> {
  const folder = await mkdtemp(join(tmpdir(), 'hallpass-ipc-'));
  const path = join(folder, 'agent.sock');
  const close = await startIpcServer(path, handlers, limits);
  cleanups.push(async () => {
    await close();
    await rm(folder, { recursive: true, force: true });
  });
  return { path };
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

  it('runs checks on request at most once per interval, however often the tray asks', async () => {
    await ipcRequest(path, 'checks:run');
    await ipcRequest(path, 'checks:run');
    expect(runs).toBe(1);
  });

  it('lets any local user connect (the tray runs as the signed-in user)', async () => {
    expect((await stat(path)).mode & 0o777).toBe(0o666);
  });

  it.each([
    ['not JSON', 'hello\n', /not JSON/],
    ['null', 'null\n', /"id":0.*invalid request/],
    ['a number', '7\n', /"id":0.*invalid request/],
    ['an array', '[1,2]\n', /"id":0.*invalid request/],
    ['a string', '"status:get"\n', /"id":0.*invalid request/],
    ['an object with a bad id', '{"id":-1,"channel":"status:get"}\n', /"id":0.*invalid request/],
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
  ])('refuses %s with an error answer, and keeps answering', async (_name, text, expected) => {
    expect(await raw(path, text)).toMatch(expected);
    expect((await ipcRequest(path, 'status:get')).ok).toBe(true);
  });

  it('refuses an over-long request without reading it all', async () => {
    expect(await raw(path, 'x'.repeat(10_000))).toMatch(/too long/);
  });

  it('a client asking a socket where nothing listens gets a clear rejection', async () => {
    await expect(
      ipcRequest(join(tmpdir(), 'no-such-hallpass.sock'), 'status:get', 1000),
    ).rejects.toThrow(/ENOENT|ECONNREFUSED/);
  });

  it('answers every line of any text or JSON value with exactly one valid answer (fuzz)', async () => {
    const line = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
      fc
        .record({ id: fc.jsonValue({ maxDepth: 1 }), channel: fc.jsonValue({ maxDepth: 1 }) })
        .map((value) => JSON.stringify(value)),
    );
    await fc.assert(
      fc.asyncProperty(line, async (text) => {
        const answer = await raw(path, text.replaceAll('\n', ' ') + '\n');
        expect(validate(IpcResponseSchema, JSON.parse(answer)).ok).toBe(true);
      }),
      { numRuns: 300 },
    );
    expect((await ipcRequest(path, 'status:get')).ok).toBe(true);
  });
});

describe('service IPC under abuse', () => {
  it('answers a failed check pass (a full disk) with an error, and stays up', async () => {
    const { path } = await server({
      status: () => status,
      runChecks: () =>
        Promise.reject(new Error("ENOSPC: no space left on device, open 'outbox/x.json'")),
    });
    const answer = await ipcRequest(path, 'checks:run');
    expect(answer).toMatchObject({
      id: 1,
      ok: false,
      error: expect.stringMatching(/ENOSPC/) as unknown,
    });
    expect((await ipcRequest(path, 'status:get')).ok).toBe(true);
  });

  it('stops reading from a client that never reads its answers, and catches up when it does', async () => {
    let answered = 0;
    // A realistic answer size: a status with results and evidence runs to a few KB.
    const big = { ...status, lastDeliveryError: 'x'.repeat(1000) };
    const { path } = await server({
      status: () => {
        answered++;
        return big;
      },
      runChecks: () => Promise.resolve([]),
    });
    const lines = 5000;
    const socket = await open(path);
    socket.pause();
    socket.write(`{"id":1,"channel":"status:get"}\n`.repeat(lines));
    // Wait until the server has stopped answering (the count holds still), then compare.
    let before = -1;
    while (answered !== before) {
      before = answered;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    // Without back-pressure all 5,000 answers (over 5 MB) pile up in the service's memory.
    expect(answered).toBeLessThan(lines);
    let received = 0;
    const all = new Promise<void>((resolve) => {
      let buffer = '';
      socket.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        let newline = buffer.indexOf('\n');
        while (newline !== -1) {
          received++;
          buffer = buffer.slice(newline + 1);
          newline = buffer.indexOf('\n');
        }
        if (received === lines) {
          resolve();
        }
      });
    });
    socket.resume();
    await all;
    expect(answered).toBe(lines);
    socket.destroy();
  });

  it('keeps a place for the tray: a new connection at the cap drops the longest idle one', async () => {
    const { path } = await server(
      { status: () => status, runChecks: () => Promise.resolve([]) },
      { maxConnections: 8 },
    );
    const idle: Socket[] = [];
    for (let i = 0; i < 40; i++) {
      idle.push(await open(path));
    }
    expect((await ipcRequest(path, 'status:get', 10_000)).ok).toBe(true);
    // The first 33 were dropped one by one as others came; the last 7 (and the tray's) got in.
    await Promise.all(idle.slice(0, 33).map(closed));
    expect(idle.slice(33).every((socket) => !socket.destroyed)).toBe(true);
    for (const socket of idle) {
      socket.destroy();
    }
  });

  it('closes a connection that stays idle', async () => {
    const { path } = await server(
      { status: () => status, runChecks: () => Promise.resolve([]) },
      { idleTimeoutMs: 200 },
    );
    const socket = await open(path);
    await closed(socket);
    expect((await ipcRequest(path, 'status:get')).ok).toBe(true);
  });
});

describe('service IPC, a client that stalls', () => {
  it('drops a connection that never reads its answers once it has been stalled for the idle time', async () => {
    const big = { ...status, lastDeliveryError: 'x'.repeat(1000) };
    const { path } = await server(
      { status: () => big, runChecks: () => Promise.resolve([]) },
      { idleTimeoutMs: 300 },
    );
    const socket = await open(path);
    socket.pause();
    socket.write(`{"id":1,"channel":"status:get"}\n`.repeat(5000));
    // A paused socket never sees the end of its stream; it learns of the close when a write
    // fails (EPIPE), so it keeps sending a line now and then, and still never reads.
    socket.on('error', () => undefined);
    const nudge = setInterval(() => socket.write(`{"id":2,"channel":"status:get"}\n`), 100);
    await closed(socket);
    clearInterval(nudge);
    expect((await ipcRequest(path, 'status:get')).ok).toBe(true);
  });
});

describe('IPC socket folder', () => {
  const handlers = { status: () => status, runChecks: () => Promise.resolve([]) };

  it('refuses a folder others may write to', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'hallpass-ipc-'));
    cleanups.push(() => rm(folder, { recursive: true, force: true }));
    await chmod(folder, 0o777);
    await expect(startIpcServer(join(folder, 'agent.sock'), handlers)).rejects.toThrow(
      /writable by others/,
    );
  });

  it('refuses a link on the way that another user owns, and follows one root owns', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'hallpass-ipc-'));
    cleanups.push(() => rm(folder, { recursive: true, force: true }));
    await mkdir(join(folder, 'real'), { mode: 0o755 });
    await symlink(join(folder, 'real'), join(folder, 'link'));
    const close = await startIpcServer(join(folder, 'link', 'agent.sock'), handlers);
    await close();
    if (runningAsRoot) {
      await lchown(join(folder, 'link'), 65534, 65534);
      await expect(startIpcServer(join(folder, 'link', 'agent.sock'), handlers)).rejects.toThrow(
        /belongs to uid 65534/,
      );
    }
  });

  // Giving a folder to another user takes root (CI runs as root).
  it.skipIf(!runningAsRoot)('refuses a socket folder that another user owns', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'hallpass-ipc-'));
    cleanups.push(() => rm(folder, { recursive: true, force: true }));
    await chown(folder, 65534, 65534);
    await expect(startIpcServer(join(folder, 'agent.sock'), handlers)).rejects.toThrow(
      /belongs to uid 65534/,
    );
  });
});
