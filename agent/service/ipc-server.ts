// Local IPC for the tray: a Unix socket (named pipe on Windows), one JSON object per line each
// way. The tray runs as the signed-in user and is not trusted, and any local user can connect:
// every request is validated with the shared schema, nothing a client sends can end the process
// (every answer is a value, every promise is handled), and every resource a client can make the
// service hold is bounded: line length, requests in flight and answers waiting to be read per
// connection, connections in total, idle time, and how often a check pass may be requested.
import { createServer, connect, type Server, type Socket } from 'node:net';
import {
  describeProblems,
  IpcRequestSchema,
  IpcResponseSchema,
  validate,
  type AgentStatus,
  type AupPending,
  type IpcPush,
  type IpcRequest,
  type IpcResponse,
} from '../../shared/index.ts';
import { listenWithMode, prepareSocketFolder } from './ipc-socket-path.ts';

const MAX_LINE_BYTES = 4096;

/** What the IPC server asks of the service. */
export interface IpcHandlers {
  status(): AgentStatus;
  /** A check pass the tray asked for; may reject (a full disk), which the client hears as an error. */
  runChecks(): Promise<unknown>;
  /**
   * Where pushes come from (the USB guard's decisions). Called once when the server starts with
   * the server's fan-out; returns the unsubscribe. Absent: `events:subscribe` is refused.
   */
  pushes?(publish: (push: IpcPush) => void): () => void;
  /**
   * The tray locked its session (`idle:locked`); the handler records it with the console user it
   * finds itself and its own rate limit. False: not recorded (too soon after the last one).
   * Absent: the channel is refused.
   */
  idleLocked?(idleSeconds: number): Promise<boolean>;
  /**
   * The AUP channels (aup-sessions.ts): what the console user must sign, and their signature
   * or decline. `peer` is who the OS says sent the request; its uid is null until this server
   * reads peer credentials. A rejection is the client's refusal, with its reason. Absent: the
   * channels are refused.
   */
  aup?: {
    pending(peer: IpcPeer): Promise<AupPending>;
    sign(request: Extract<IpcRequest, { channel: 'aup:sign' }>, peer: IpcPeer): Promise<AupPending>;
    decline(
      request: Extract<IpcRequest, { channel: 'aup:decline' }>,
      peer: IpcPeer,
    ): Promise<AupPending>;
  };
}

/** Who sent a request, as the OS proves it; null fields are not known (yet). */
export interface IpcPeer {
  uid: number | null;
}

// Peer credentials are not read yet (SO_PEERCRED on Linux, LOCAL_PEERCRED on macOS, the pipe
// client's process on Windows): the seam where they arrive. Until then nothing is proven.
const UNPROVEN_PEER: IpcPeer = { uid: null };

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
}

/** Defaults: far below any descriptor limit, and above what one tray ever needs. */
export const DEFAULT_IPC_LIMITS: IpcLimits = {
  maxConnections: 32,
  maxInFlight: 4,
  maxBufferedBytes: 64 * 1024,
  idleTimeoutMs: 60_000,
  minCheckRunIntervalMs: 5 * 60_000,
};

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
}

/** The id of a request that failed validation, when it has a usable one; else 0. */
function requestId(message: unknown): number {
  if (typeof message !== 'object' || message === null || !('id' in message)) {
    return 0;
  }
  const id = message.id;
  return typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= 2 ** 31 ? id : 0;
}

function errorAnswer(id: number, error: string): IpcResponse {
  return { id, ok: false, error: error.slice(0, 500) };
}

const NO_AUP = 'this service does not handle the AUP';

/** Answers one line; never rejects: every failure is an error answer. */
async function answerLine(
  line: string,
  handlers: IpcHandlers,
  checkRun: () => Promise<void>,
  subscribe: () => void,
): Promise<IpcResponse> {
  let message: unknown;
  try {
    message = JSON.parse(line);
  } catch {
    return errorAnswer(0, 'not JSON');
  }
  const checked = validate(IpcRequestSchema, message);
  if (!checked.ok) {
    return errorAnswer(
      requestId(message),
      `invalid request: ${describeProblems(checked.problems)}`,
    );
  }
  const request = checked.value;
  const aupAnswer = (id: number, aup: AupPending): IpcResponse => ({
    id,
    ok: true,
    status: handlers.status(),
    aup,
  });
  try {
    switch (request.channel) {
      case 'status:get':
        return { id: request.id, ok: true, status: handlers.status() };
      case 'checks:run':
        await checkRun();
        return { id: request.id, ok: true, status: handlers.status() };
      case 'events:subscribe':
        if (handlers.pushes === undefined) {
          return errorAnswer(request.id, 'this service sends no pushes');
        }
        subscribe();
        return { id: request.id, ok: true, status: handlers.status() };
      case 'idle:locked':
        if (handlers.idleLocked === undefined) {
          return errorAnswer(request.id, 'this service does not record idle locks');
        }
        if (!(await handlers.idleLocked(request.idleSeconds))) {
          return errorAnswer(request.id, 'an idle lock was recorded moments ago; not recorded');
        }
        return { id: request.id, ok: true, status: handlers.status() };
      case 'aup:pending':
        return handlers.aup === undefined
          ? errorAnswer(request.id, NO_AUP)
          : aupAnswer(request.id, await handlers.aup.pending(UNPROVEN_PEER));
      case 'aup:sign':
        return handlers.aup === undefined
          ? errorAnswer(request.id, NO_AUP)
          : aupAnswer(request.id, await handlers.aup.sign(request, UNPROVEN_PEER));
      case 'aup:decline':
        return handlers.aup === undefined
          ? errorAnswer(request.id, NO_AUP)
          : aupAnswer(request.id, await handlers.aup.decline(request, UNPROVEN_PEER));
    }
  } catch (error) {
    if (error instanceof Error && error.name === 'AupRefusal') {
      return errorAnswer(request.id, error.message);
    }
    // A pass that failed (the disk is full) is the service's trouble, not the client's: the
    // client hears it, the service's own schedule and status carry on.
    return errorAnswer(
      request.id,
      `the service could not do that: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
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
  const connections = new Set<Connection>();
  const drop = (connection: Connection) => {
    connections.delete(connection);
    connection.socket.destroy();
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
      void answerLine(line, handlers, checkRun, () => {
        connection.subscribed = true;
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
    };
    if (connections.size >= bounds.maxConnections) {
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
        const drained = connection.socket.writableLength === 0;
        const waiting = (connection.inFlight > 0 || connection.subscribed) && drained;
        if (!waiting && now - connection.lastActivity >= bounds.idleTimeoutMs) {
          drop(connection);
        }
      }
    },
    Math.max(10, Math.floor(bounds.idleTimeoutMs / 4)),
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

/** Which connection gives way to a newcomer: the longest idle, else the oldest busy one. */
function evictionVictim(connections: Set<Connection>): Connection | undefined {
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
