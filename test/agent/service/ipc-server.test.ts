import type { Socket } from 'node:net';
import { chmod, chown, lchown, mkdir, mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { IpcPushSchema, IpcResponseSchema, validate, type IpcPush } from '../../../shared/index.ts';
import { ipcRequest, startIpcServer } from '../../../agent/service/ipc-server.ts';
import {
  connectPlain,
  firstAnswer,
  lineClient,
  serviceSocketForTest,
  startServiceSocket,
  unenrolledStatus,
} from '../../helpers/ipc-service.ts';
import { runningAsRoot } from '../../helpers/unprivileged-user.ts';
import { usbBlockedData } from '../../helpers/usb-sample.ts';

const status = unenrolledStatus();

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

describe('service IPC', () => {
  let path: string;
  let close: () => Promise<void>;
  let runs = 0;
  beforeAll(async () => {
    ({ path, close } = await startServiceSocket({
      status: () => status,
      runChecks: () => {
        runs++;
        return Promise.resolve([]);
      },
    }));
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
    expect(await firstAnswer(path, 'plain', text)).toMatch(expected);
    expect((await ipcRequest(path, 'status:get')).ok).toBe(true);
  });

  it('refuses an over-long request without reading it all', async () => {
    expect(await firstAnswer(path, 'plain', 'x'.repeat(10_000))).toMatch(/too long/);
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
        const answer = await firstAnswer(path, 'plain', text.replaceAll('\n', ' ') + '\n');
        expect(validate(IpcResponseSchema, JSON.parse(answer)).ok).toBe(true);
      }),
      { numRuns: 300 },
    );
    expect((await ipcRequest(path, 'status:get')).ok).toBe(true);
  });
});

describe('service IPC under abuse', () => {
  it('answers a failed check pass (a full disk) with an error, and stays up', async () => {
    const { path } = await serviceSocketForTest({
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
    const { path } = await serviceSocketForTest({
      status: () => {
        answered++;
        return big;
      },
      runChecks: () => Promise.resolve([]),
    });
    const lines = 5000;
    const socket = await connectPlain(path);
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
    const { path } = await serviceSocketForTest(
      { status: () => status, runChecks: () => Promise.resolve([]) },
      { limits: { maxConnections: 8 } },
    );
    const idle: Socket[] = [];
    for (let i = 0; i < 40; i++) {
      idle.push(await connectPlain(path));
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
    const { path } = await serviceSocketForTest(
      { status: () => status, runChecks: () => Promise.resolve([]) },
      { limits: { idleTimeoutMs: 200 } },
    );
    const socket = await connectPlain(path);
    await closed(socket);
    expect((await ipcRequest(path, 'status:get')).ok).toBe(true);
  });
});

describe('service IPC, a client that stalls', () => {
  it('drops a connection that never reads its answers once it has been stalled for the idle time', async () => {
    const big = { ...status, lastDeliveryError: 'x'.repeat(1000) };
    const { path } = await serviceSocketForTest(
      { status: () => big, runChecks: () => Promise.resolve([]) },
      { limits: { idleTimeoutMs: 300 } },
    );
    const socket = await connectPlain(path);
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
    onTestFinished(() => rm(folder, { recursive: true, force: true }));
    await chmod(folder, 0o777);
    await expect(startIpcServer(join(folder, 'agent.sock'), handlers)).rejects.toThrow(
      /writable by others/,
    );
  });

  it('refuses a link on the way that another user owns, and follows one root owns', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'hallpass-ipc-'));
    onTestFinished(() => rm(folder, { recursive: true, force: true }));
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
    onTestFinished(() => rm(folder, { recursive: true, force: true }));
    await chown(folder, 65534, 65534);
    await expect(startIpcServer(join(folder, 'agent.sock'), handlers)).rejects.toThrow(
      /belongs to uid 65534/,
    );
  });
});

/** A push source as the service wires it: the server's fan-out, called by the test. */
function pushSource() {
  let publish: ((push: IpcPush) => void) | null = null;
  return {
    pushes: (fanOut: (push: IpcPush) => void) => {
      publish = fanOut;
      return () => {
        publish = null;
      };
    },
    send: (push: IpcPush) => {
      publish?.(push);
    },
    subscribed: () => publish !== null,
  };
}

const decisionPush = (serial: string): IpcPush => {
  const { count: _count, firstAt: _firstAt, ...decision } = usbBlockedData({ serial });
  return { push: 'usb:decision', decision };
};

describe('service IPC pushes', () => {
  it('answers events:subscribe with the status, then sends each push as a valid line', async () => {
    const source = pushSource();
    const { path } = await serviceSocketForTest({
      status: () => status,
      runChecks: () => Promise.resolve([]),
      pushes: source.pushes,
    });
    const client = await lineClient(path);
    client.send({ id: 7, channel: 'events:subscribe' });
    await client.until(1);
    expect(client.lines[0]).toEqual({ id: 7, ok: true, status });
    source.send(decisionPush('FIRST'));
    source.send(decisionPush('SECOND'));
    await client.until(3);
    expect(client.lines.slice(1).map((line) => validate(IpcPushSchema, line).ok)).toEqual([
      true,
      true,
    ]);
    expect(client.lines.slice(1)).toEqual([decisionPush('FIRST'), decisionPush('SECOND')]);
    client.socket.destroy();
  });

  it('sends nothing to a connection that did not subscribe, and one copy to one that subscribed twice', async () => {
    const source = pushSource();
    const { path } = await serviceSocketForTest({
      status: () => status,
      runChecks: () => Promise.resolve([]),
      pushes: source.pushes,
    });
    const plain = await lineClient(path);
    const twice = await lineClient(path);
    plain.send({ id: 1, channel: 'status:get' });
    twice.send({ id: 1, channel: 'events:subscribe' });
    twice.send({ id: 2, channel: 'events:subscribe' });
    await Promise.all([plain.until(1), twice.until(2)]);
    source.send(decisionPush('ONCE'));
    // A request after the push: its answer comes after any push line on the same connection.
    plain.send({ id: 2, channel: 'status:get' });
    twice.send({ id: 3, channel: 'status:get' });
    await Promise.all([plain.until(2), twice.until(4)]);
    expect(plain.lines.map((l) => (l as { id?: number }).id)).toEqual([1, 2]);
    expect(
      twice.lines.map(
        (l) => (l as { id?: number; push?: string }).id ?? (l as { push?: string }).push,
      ),
    ).toEqual([1, 2, 'usb:decision', 3]);
    plain.socket.destroy();
    twice.socket.destroy();
  });

  it('drops pushes to a subscriber that does not read, never queueing them without bound', async () => {
    const source = pushSource();
    const maxBufferedBytes = 16 * 1024;
    const { path } = await serviceSocketForTest(
      { status: () => status, runChecks: () => Promise.resolve([]), pushes: source.pushes },
      { limits: { maxBufferedBytes } },
    );
    const client = await lineClient(path);
    client.send({ id: 1, channel: 'events:subscribe' });
    await client.until(1);
    client.socket.pause();
    const sent = 20_000;
    for (let i = 0; i < sent; i++) {
      source.send(decisionPush(`FLOOD-${String(i)}`));
    }
    client.socket.resume();
    // Pushes after the flood get through once the client reads again: the connection works.
    const after = setInterval(() => {
      source.send(decisionPush('AFTER'));
    }, 50);
    await new Promise<void>((resolve) => {
      const check = () => {
        if (client.lines.some((l) => JSON.stringify(l).includes('"AFTER"'))) {
          resolve();
        } else {
          setTimeout(check, 50);
        }
      };
      check();
    });
    clearInterval(after);
    const flood = client.lines.filter((l) => JSON.stringify(l).includes('FLOOD-')).length;
    // What arrived is what fit in the service's bound plus the kernel's socket buffers.
    expect(flood).toBeLessThan(sent / 4);
    expect(flood).toBeGreaterThan(1);
    client.socket.destroy();
  });

  it('keeps a subscriber that reads everything past the idle time', async () => {
    const source = pushSource();
    const { path } = await serviceSocketForTest(
      { status: () => status, runChecks: () => Promise.resolve([]), pushes: source.pushes },
      { limits: { idleTimeoutMs: 100 } },
    );
    const client = await lineClient(path);
    client.send({ id: 1, channel: 'events:subscribe' });
    await client.until(1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(client.socket.destroyed).toBe(false);
    source.send(decisionPush('LATER'));
    await client.until(2);
    expect(client.lines[1]).toEqual(decisionPush('LATER'));
    client.socket.destroy();
  });

  it('refuses events:subscribe when the service has no pushes, and unsubscribes on close', async () => {
    const { path } = await serviceSocketForTest({
      status: () => status,
      runChecks: () => Promise.resolve([]),
    });
    expect(
      JSON.parse(await firstAnswer(path, 'plain', '{"id":3,"channel":"events:subscribe"}\n')),
    ).toEqual({
      id: 3,
      ok: false,
      error: 'this service sends no pushes',
    });
    const source = pushSource();
    const second = await startServiceSocket({
      status: () => status,
      runChecks: () => Promise.resolve([]),
      pushes: source.pushes,
    });
    expect(source.subscribed()).toBe(true);
    await second.close();
    expect(source.subscribed()).toBe(false);
  });
});
