// Local IPC for the tray: a Unix socket (named pipe on Windows), one JSON object per line each
// way. The tray runs as the signed-in user and is not trusted, and any local user can connect:
// every request is validated with the shared schema, nothing a client sends can end the process
// (every answer is a value, every promise is handled), and every resource a client can make the
// service hold is bounded: line length, requests in flight and answers waiting to be read per
// connection, connections in total, idle time, and how often a check pass may be requested.
//
// Who is on the other end is proven from the OS (agent/core/ipc-peer: the client creates a file
// named by a nonce, the service reads its owner), never taken from what a client says. An
// unproven connection may only do what is harmless (read the status, ask for a rate-limited
// pass, prove itself), has a short deadline and a small pool of its own; channels that act for a
// user (pushes naming users, idle locks, the tray's hello) need a proven console user or root.
// Each proven user has a cap of their own, and the console user's tray is the last connection
// to give way: another user's connections, and unproven ones, always go first.
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import {
  describeProblems,
  IpcResponseSchema,
  validate,
  type IpcPeer,
  type IpcPeerResponse,
  type IpcPush,
  type IpcResponse,
} from '../../shared/index.ts';
import { realHost } from '../core/host.ts';
import { peersFolderFor } from '../core/ipc-peer/peer-proof.ts';
import { posixPeerProof } from '../core/ipc-peer/posix.ts';
import { actsForConsole, answerLine, errorAnswer, type IpcHandlers } from './ipc-channels.ts';
import { listenWithMode, prepareSocketFolder } from './ipc-socket-path.ts';

const MAX_LINE_BYTES = 4096;

/**
 * Bounds on what clients can make the service hold. A connection at the total cap does not
 * refuse the newcomer: it drops the connection idle longest (busy ones only when none is idle),
 * so the tray, which opens a fresh connection per request, always gets in however many idle
 * connections a pupil holds open.
 */
export interface IpcLimits {
  maxConnections: number;
  /** Requests read and not yet answered, per connection; reading stops at this many. */
  maxInFlight: number;
  /** Answers written but not yet read by the client; reading stops above this many bytes. */
  maxBufferedBytes: number;
  /** A connection with nothing in flight and no progress for this long is closed. */
  idleTimeoutMs: number;
  /** A requested check pass runs at most once per this long; callers in between get the status. */
  minCheckRunIntervalMs: number;
  /** Proven connections one user (uid, SID) may hold; beyond it their own longest idle goes. */
  maxPerPeer: number;
  /** Connections not yet proven, all users together; beyond it the oldest unproven goes. */
  maxUnproven: number;
  /** An unproven connection is closed this long after it opened, busy or not. */
  unprovenTimeoutMs: number;
}

/** Defaults: far below any descriptor limit, and above what one tray ever needs. */
export const DEFAULT_IPC_LIMITS: IpcLimits = {
  maxConnections: 32,
  maxInFlight: 4,
  maxBufferedBytes: 64 * 1024,
  idleTimeoutMs: 60_000,
  minCheckRunIntervalMs: 5 * 60_000,
  maxPerPeer: 8,
  maxUnproven: 8,
  unprovenTimeoutMs: 10_000,
};

/** Proof attempts one connection may make; a client proves in one, a guesser gets no more. */
const MAX_CHALLENGES = 3;

/** One client connection and what it holds. */
interface Connection {
  socket: Socket;
  /** Bytes received and not yet split into lines. */
  buffer: string;
  inFlight: number;
  lastActivity: number;
  /** Reading stopped for back-pressure (answers unread or too many in flight). */
  stalled: boolean;
  /** Sent `events:subscribe`: gets pushes, once each however often it asked. */
  subscribed: boolean;
  openedAt: number;
  /** Who proved to be on the other end; null until then. */
  peer: IpcPeer | null;
  /** The nonce handed out and not yet answered, with when. */
  challenge: { nonce: string; issuedAt: number } | null;
  challenges: number;
  /** Set once the console user's tray said hello here: called when the connection ends. */
  tray: { release(): void } | null;
}

/** Starts listening on `path`; returns a closer. */
export async function startIpcServer(
  path: string,
  handlers: IpcHandlers,
  limits: Partial<IpcLimits> = {},
): Promise<() => Promise<void>> {
  const bounds = { ...DEFAULT_IPC_LIMITS, ...limits };
  const isPipe = path.startsWith('\\\\.\\pipe\\');
  if (!isPipe) {
    await prepareSocketFolder(path);
  }
  const proof =
    handlers.peerProof ??
    (isPipe
      ? null
      : posixPeerProof(peersFolderFor('linux', path), realHost.run, process.getuid?.() ?? 0));
  await proof?.prepare();
  const connections = new Set<Connection>();
  const release = (connection: Connection) => {
    connection.tray?.release();
    connection.tray = null;
  };
  const drop = (connection: Connection) => {
    connections.delete(connection);
    release(connection);
    connection.socket.destroy();
  };

  const challenge = (connection: Connection): IpcPeerResponse | string => {
    if (proof === null) {
      return 'this service cannot prove who a client is on this OS';
    }
    if (connection.peer !== null) {
      return 'this connection is proven already';
    }
    if (connection.challenges >= MAX_CHALLENGES) {
      return 'too many proof attempts on this connection';
    }
    connection.challenges++;
    const nonce = randomBytes(16).toString('hex');
    connection.challenge = { nonce, issuedAt: Date.now() };
    return { id: 0, ok: true, nonce };
  };

  const prove = async (connection: Connection): Promise<IpcPeer | string> => {
    const pending = connection.challenge;
    // One look per nonce, whatever it finds: a second prove needs a new challenge.
    connection.challenge = null;
    if (proof === null || pending === null) {
      return 'no challenge to answer: ask peer:challenge first';
    }
    if (connection.peer !== null) {
      return 'this connection is proven already';
    }
    const verdict = await proof.inspect(pending.nonce, pending.issuedAt);
    if (!verdict.ok) {
      return `not proven: ${verdict.reason}`;
    }
    const user = await proof.userName(verdict.id);
    let atConsole = false;
    if (user !== null && handlers.consoleUser !== undefined) {
      try {
        atConsole = (await handlers.consoleUser.current())?.name === user;
      } catch {
        // Who sits at the console could not be told: not the console user, never a guess.
      }
    }
    if (connection.socket.destroyed) {
      return 'the connection closed';
    }
    const peer: IpcPeer = {
      id: verdict.id,
      user,
      privileged: verdict.privileged,
      console: atConsole,
    };
    connection.peer = peer;
    // A user competes only with themselves for their own places: their longest idle goes.
    const own = [...connections].filter((c) => c !== connection && c.peer?.id === peer.id);
    if (own.length >= bounds.maxPerPeer) {
      const victim = evictionVictim(new Set(own));
      if (victim !== undefined) {
        drop(victim);
      }
    }
    return peer;
  };

  // Requested passes: one at a time, at most once per interval; callers in between share it or
  // get the status as it is. The schedule's own passes are not limited by this.
  let lastRun = Number.NEGATIVE_INFINITY;
  let running: Promise<void> | null = null;
  const checkRun = (): Promise<void> => {
    if (running !== null) {
      return running;
    }
    const now = Date.now();
    if (now - lastRun < bounds.minCheckRunIntervalMs) {
      return Promise.resolve();
    }
    lastRun = now;
    running = handlers
      .runChecks()
      .then(() => undefined)
      .finally(() => {
        running = null;
      });
    return running;
  };

  const pump = (connection: Connection): void => {
    const { socket } = connection;
    for (;;) {
      if (socket.destroyed) {
        return;
      }
      const blocked =
        connection.inFlight >= bounds.maxInFlight ||
        socket.writableLength > bounds.maxBufferedBytes;
      const newline = connection.buffer.indexOf('\n');
      if (blocked || newline === -1) {
        break;
      }
      const line = connection.buffer.slice(0, newline);
      connection.buffer = connection.buffer.slice(newline + 1);
      connection.inFlight++;
      void answerLine(line, handlers, {
        checkRun,
        subscribe: () => {
          connection.subscribed = true;
        },
        connection,
        challenge: () => challenge(connection),
        prove: () => prove(connection),
        trayHello: (peer) => {
          if (connection.tray === null && handlers.trayHello !== undefined) {
            connection.tray = handlers.trayHello(peer);
          }
        },
      })
        .catch((error: unknown) => errorAnswer(0, `internal error: ${String(error)}`))
        .then((response) => {
          connection.inFlight--;
          connection.lastActivity = Date.now();
          if (!socket.destroyed) {
            socket.write(JSON.stringify(response) + '\n');
          }
          pump(connection);
        });
    }
    if (connection.buffer.length > MAX_LINE_BYTES && !connection.buffer.includes('\n')) {
      socket.end(JSON.stringify(errorAnswer(0, 'request too long')) + '\n');
      connection.buffer = '';
      return;
    }
    // Stop reading while lines wait (in flight at the cap, or the client not reading its
    // answers): what it sends next stays in the kernel's buffer, and then in the client.
    const mustWait = connection.buffer.includes('\n');
    if (mustWait && !connection.stalled) {
      connection.stalled = true;
      socket.pause();
    } else if (!mustWait && connection.stalled) {
      connection.stalled = false;
      socket.resume();
    }
  };

  const server: Server = createServer((socket: Socket) => {
    const connection: Connection = {
      socket,
      buffer: '',
      inFlight: 0,
      lastActivity: Date.now(),
      stalled: false,
      subscribed: false,
      openedAt: Date.now(),
      peer: null,
      challenge: null,
      challenges: 0,
      tray: null,
    };
    const unproven = [...connections].filter((c) => c.peer === null);
    if (unproven.length >= Math.min(bounds.maxUnproven, bounds.maxConnections)) {
      // Unproven newcomers churn their own pool and nothing else.
      const victim = evictionVictim(new Set(unproven));
      if (victim !== undefined) {
        drop(victim);
      }
    } else if (connections.size >= bounds.maxConnections) {
      const victim = evictionVictim(connections);
      if (victim !== undefined) {
        drop(victim);
      }
    }
    connections.add(connection);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      connection.lastActivity = Date.now();
      connection.buffer += chunk;
      pump(connection);
    });
    socket.on('drain', () => {
      connection.lastActivity = Date.now();
      pump(connection);
    });
    socket.on('close', () => {
      connections.delete(connection);
      release(connection);
    });
    socket.on('error', () => undefined);
  });
  // The accepting socket itself can fail (EMFILE when descriptors run out): log-free and alive.
  server.on('error', () => undefined);

  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const connection of connections) {
        // Stalled on its own unread answers counts as idle: the client makes no progress. A
        // subscriber that has read everything sent is waiting for pushes, not idle.
        // The tray's hello connection is how the registry knows it is there: kept like one.
        const drained = connection.socket.writableLength === 0;
        const waiting =
          (connection.inFlight > 0 || connection.subscribed || connection.tray !== null) && drained;
        if (!waiting && now - connection.lastActivity >= bounds.idleTimeoutMs) {
          drop(connection);
        } else if (
          // Not while an answer is being worked out: a proof waits on the console-user
          // command, which a loaded machine can make slow. Every answer ends.
          connection.peer === null &&
          connection.inFlight === 0 &&
          now - connection.openedAt >= bounds.unprovenTimeoutMs
        ) {
          drop(connection);
        }
      }
      // Proof files nobody asked the service to read (a client that never answered).
      void proof?.sweep(Math.max(60_000, bounds.unprovenTimeoutMs)).catch(() => undefined);
    },
    Math.max(10, Math.floor(Math.min(bounds.idleTimeoutMs, bounds.unprovenTimeoutMs) / 4)),
  );
  sweep.unref();

  // Pushes go to subscribers that keep up. One that is not reading (its unread bytes above the
  // same bound that stops answering requests) misses them: dropped, never queued without bound.
  const publish = (push: IpcPush): void => {
    const line = JSON.stringify(push) + '\n';
    for (const connection of connections) {
      const { socket } = connection;
      if (
        connection.subscribed &&
        !socket.destroyed &&
        socket.writableLength + line.length <= bounds.maxBufferedBytes
      ) {
        socket.write(line);
      }
    }
  };

  if (isPipe) {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } else {
    await listenWithMode(server, path);
  }
  // Subscribed once listening: a server that failed to start leaves no listener behind.
  const unsubscribe = handlers.pushes?.(publish);
  return () =>
    new Promise((resolve) => {
      clearInterval(sweep);
      unsubscribe?.();
      for (const connection of connections) {
        connection.socket.destroy();
      }
      connections.clear();
      server.close(() => {
        resolve();
      });
    });
}

/**
 * How readily a connection gives way, lowest first: unproven, then another user's, then root's
 * and the console user's own, and the console user's tray last of all.
 */
function evictionRank(connection: Connection): number {
  if (connection.peer === null) {
    return 0;
  }
  if (connection.tray !== null) {
    return 3;
  }
  return actsForConsole(connection.peer) ? 2 : 1;
}

/**
 * Which connection gives way to a newcomer: from the lowest rank present, the longest idle,
 * else the oldest busy one.
 */
function evictionVictim(all: Set<Connection>): Connection | undefined {
  let lowest = Number.POSITIVE_INFINITY;
  for (const connection of all) {
    lowest = Math.min(lowest, evictionRank(connection));
  }
  const connections = [...all].filter((connection) => evictionRank(connection) === lowest);
  let idle: Connection | undefined;
  let any: Connection | undefined;
  for (const connection of connections) {
    if (
      connection.inFlight === 0 &&
      (idle === undefined || connection.lastActivity < idle.lastActivity)
    ) {
      idle = connection;
    }
    if (any === undefined || connection.lastActivity < any.lastActivity) {
      any = connection;
    }
  }
  return idle ?? any;
}

/** Sends one request to a running service and validates its answer; rejects when nothing listens. */
export function ipcRequest(
  path: string,
  channel: 'status:get' | 'checks:run',
  timeoutMs = 30_000,
): Promise<IpcResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let buffer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('the service did not answer'));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(JSON.stringify({ id: 1, channel }) + '\n'));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const newline = buffer.indexOf('\n');
      if (newline === -1) {
        return;
      }
      clearTimeout(timer);
      socket.end();
      let parsed: unknown;
      try {
        parsed = JSON.parse(buffer.slice(0, newline));
      } catch {
        reject(new Error('the service answered something that is not JSON'));
        return;
      }
      const checked = validate(IpcResponseSchema, parsed);
      if (checked.ok) {
        resolve(checked.value);
      } else {
        reject(new Error(`invalid answer from the service: ${describeProblems(checked.problems)}`));
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
