// The tray's client against the real `hallpass service` process (status, subscribe, the service
// going away and coming back), and against hostile local servers on a real socket: whatever a
// server sends, the client refuses it, says the service is unreachable and keeps trying.
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  ServiceClient,
  reconnectDelayMs,
  type ConnectionState,
  type ServiceClientListener,
} from '../../../agent/tray/service-client.ts';
import { trayHandshake } from '../../../agent/tray/service-handshake.ts';
import type { AgentStatus, IpcPush } from '../../../shared/index.ts';
import {
  agentHome,
  agentStatus,
  startAgent,
  stopAgent,
  waitFor,
  type AgentHome,
} from '../../helpers/agent-process.ts';

/** A listener that records everything it hears. */
function recorder(): ServiceClientListener & {
  states: { state: ConnectionState; reason: string | null }[];
  statuses: AgentStatus[];
  pushes: IpcPush[];
} {
  const states: { state: ConnectionState; reason: string | null }[] = [];
  const statuses: AgentStatus[] = [];
  const pushes: IpcPush[] = [];
  return {
    states,
    statuses,
    pushes,
    state: (state, reason) => states.push({ state, reason }),
    status: (status) => statuses.push(status),
    push: (push) => pushes.push(push),
  };
}

const fastBackoff = { baseMs: 50, capMs: 200, jitter: 0 };

describe('reconnectDelayMs', () => {
  it.each([
    [0, 1000],
    [1, 2000],
    [5, 32_000],
    [6, 60_000],
    [1000, 60_000],
  ])('attempt %i without jitter waits %i ms', (attempt, ms) => {
    expect(reconnectDelayMs(attempt, { baseMs: 1000, capMs: 60_000, jitter: 0 })).toBe(ms);
  });

  it('jitter only shortens, by at most its share', () => {
    const options = { baseMs: 1000, capMs: 60_000, jitter: 0.2 };
    expect(reconnectDelayMs(3, options, () => 0)).toBe(8000);
    expect(reconnectDelayMs(3, options, () => 0.999999)).toBe(6400);
  });
});

describe.skipIf(process.platform !== 'linux')('ServiceClient and the real service', () => {
  let home: AgentHome | undefined;
  afterAll(async () => {
    if (home !== undefined) {
      await rm(home.dir, { recursive: true, force: true });
    }
  });

  it('proves its user with the tray handshake, which the service needs before pushes', async () => {
    const proving = await agentHome({});
    const agent = startAgent(proving);
    const clients = [true, false].map(
      (handshake) =>
        new ServiceClient({
          path: proving.ipcPath,
          listener: recorder(),
          backoff: fastBackoff,
          ...(handshake ? { onConnect: trayHandshake('linux', proving.ipcPath) } : {}),
        }),
    );
    try {
      for (const client of clients) {
        client.start();
        await waitFor(
          'connected',
          async () => Promise.resolve(client.state === 'connected' || null),
          120_000,
        );
      }
      const [proven, unproven] = clients as [ServiceClient, ServiceClient];
      // This test runs as root: proven, the service takes it for its own account.
      await expect(proven.request({ channel: 'events:subscribe' })).resolves.toMatchObject({
        agentVersion: expect.any(String) as unknown,
      });
      await expect(unproven.request({ channel: 'events:subscribe' })).rejects.toThrow(/proven/);
    } finally {
      for (const client of clients) {
        client.stop();
      }
      await stopAgent(agent);
      await rm(proving.dir, { recursive: true, force: true });
    }
  });

  it('is unreachable without a service, connects when it starts, and reconnects after a restart', async () => {
    home = await agentHome({});
    const ready = home;
    const heard = recorder();
    const client = new ServiceClient({
      path: ready.ipcPath,
      listener: heard,
      backoff: fastBackoff,
      pollMs: 500,
    });
    client.start();
    try {
      await waitFor('unreachable', async () =>
        Promise.resolve(client.state === 'unreachable' || null),
      );
      await expect(client.request({ channel: 'status:get' })).rejects.toThrow(/not reachable/);

      let agent = startAgent(ready);
      try {
        await waitFor(
          'connected',
          async () => Promise.resolve(client.state === 'connected' || null),
          120_000,
        );
        const status = await client.request({ channel: 'status:get' });
        const direct = await agentStatus(ready);
        expect(status.agentVersion).toBe(direct?.agentVersion);
        expect(status.enrolled).toBe(false);
        expect(heard.statuses.length).toBeGreaterThan(0);
      } finally {
        await stopAgent(agent);
      }
      await waitFor('unreachable after the service stops', async () =>
        Promise.resolve(client.state === 'unreachable' || null),
      );
      agent = startAgent(ready);
      try {
        await waitFor(
          'connected again',
          async () => Promise.resolve(client.state === 'connected' || null),
          120_000,
        );
        // Polling goes on over the kept connection: more statuses arrive unasked.
        const before = heard.statuses.length;
        await waitFor('a polled status', async () =>
          Promise.resolve(heard.statuses.length > before || null),
        );
      } finally {
        await stopAgent(agent);
      }
      const kinds = heard.states.map((s) => s.state);
      expect(kinds).toContain('connected');
      expect(kinds.lastIndexOf('unreachable')).toBeGreaterThan(kinds.indexOf('connected'));
    } finally {
      client.stop();
    }
  });
});

describe.skipIf(process.platform === 'win32')('ServiceClient and hostile servers', () => {
  let dir: string;
  let server: Server | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const socket of sockets) {
      socket.destroy();
    }
    sockets.length = 0;
    await new Promise<void>((resolve) => {
      if (server === undefined) {
        resolve();
      } else {
        server.close(() => {
          resolve();
        });
      }
    });
    server = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  /** Serves `reply(line)` for every line a client sends; counts connections. */
  async function serve(reply: (line: string, socket: Socket) => void): Promise<{
    path: string;
    connections: () => number;
  }> {
    dir = await mkdtemp(join(tmpdir(), 'hallpass-tray-client-'));
    const path = join(dir, 'hostile.sock');
    let count = 0;
    server = createServer((socket) => {
      count++;
      sockets.push(socket);
      socket.setEncoding('utf8');
      let buffer = '';
      socket.on('data', (chunk: string) => {
        buffer += chunk;
        for (let n = buffer.indexOf('\n'); n !== -1; n = buffer.indexOf('\n')) {
          reply(buffer.slice(0, n), socket);
          buffer = buffer.slice(n + 1);
        }
      });
      socket.on('error', () => undefined);
    });
    const listening = server;
    await new Promise<void>((resolve) => listening.listen(path, resolve));
    return { path, connections: () => count };
  }

  it.each([
    ['not JSON', () => 'this is not json\n'],
    ['an answer outside the schema', () => '{"id":1,"ok":true,"status":{"enrolled":"yes"}}\n'],
    ['a push outside the schema', () => '{"push":"usb:decision","decision":{"at":"<script>"}}\n'],
    ['a line longer than the tray accepts', () => 'x'.repeat(2 * 1024 * 1024)],
  ])('refuses %s, is unreachable and tries again', async (_what, line) => {
    const hostile = await serve((_line, socket) => socket.write(line()));
    const heard = recorder();
    const client = new ServiceClient({ path: hostile.path, listener: heard, backoff: fastBackoff });
    client.start();
    try {
      await waitFor('two connection attempts', async () =>
        Promise.resolve(hostile.connections() >= 2 || null),
      );
      expect(client.state).not.toBe('connected');
      expect(heard.statuses).toEqual([]);
      expect(heard.pushes).toEqual([]);
      expect(heard.states.find((s) => s.state === 'unreachable')?.reason).toMatch(
        /not JSON|invalid|longer/,
      );
    } finally {
      client.stop();
    }
  });

  it('runs the connect hook before any request, with the lines the service sent first', async () => {
    const seen: string[] = [];
    const hostile = await serve((line, socket) => {
      seen.push(line);
      if (line === '{"answer":"42"}') {
        return;
      }
      socket.write('{"id":1,"ok":false,"error":"this service sends no pushes"}\n');
    });
    // The challenge goes out as soon as the client connects, as the handshake will.
    server?.on('connection', (socket: Socket) => socket.write('{"challenge":"abc"}\n'));
    const heard = recorder();
    const hookSaw: unknown[] = [];
    const client = new ServiceClient({
      path: hostile.path,
      listener: heard,
      backoff: fastBackoff,
      onConnect: async (lines) => {
        hookSaw.push(await lines.read());
        lines.write({ answer: '42' });
      },
    });
    client.start();
    try {
      await waitFor('the subscribe request', async () => Promise.resolve(seen.length >= 2 || null));
      expect(hookSaw).toEqual([{ challenge: 'abc' }]);
      expect(seen[0]).toBe('{"answer":"42"}');
      expect(JSON.parse(seen[1] ?? '')).toMatchObject({ channel: 'events:subscribe' });
    } finally {
      client.stop();
    }
  });

  it('a hook that rejects drops the connection before any request', async () => {
    const seen: string[] = [];
    const hostile = await serve((line) => seen.push(line));
    const heard = recorder();
    const client = new ServiceClient({
      path: hostile.path,
      listener: heard,
      backoff: fastBackoff,
      onConnect: () => Promise.reject(new Error('challenge not answered')),
    });
    client.start();
    try {
      await waitFor('a retry', async () => Promise.resolve(hostile.connections() >= 2 || null));
      expect(seen).toEqual([]);
      expect(heard.states.find((s) => s.state === 'unreachable')?.reason).toMatch(
        /challenge not answered/,
      );
    } finally {
      client.stop();
    }
  });
});
