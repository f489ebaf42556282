// The tray's one connection to the service: newline JSON over the service's socket (named pipe
// on Windows), request ids, every line checked against shared/schemas/ipc.ts, `events:subscribe`
// pushes, and reconnection with back-off. The service is the trusted side and the tray still
// trusts nothing it reads: a line that is not JSON, not in the schema, or too long drops the
// connection (and reconnects), never crashes the tray or reaches a window unchecked.
import { connect, type Socket } from 'node:net';
import {
  describeProblems,
  IpcPushSchema,
  IpcResponseSchema,
  validate,
  type AgentStatus,
  type IpcPush,
  type IpcRequest,
  type IpcResponse,
} from '../../shared/index.ts';
import type { Timers } from './idle/controller.ts';

/** Longer lines than this are refused: a status with 50 USB decisions is well under 200 KiB. */
export const MAX_ANSWER_BYTES = 1024 * 1024;

/** Where the client is: `unreachable` until a connection works, and after one drops. */
export type ConnectionState = 'connecting' | 'connected' | 'unreachable';

/**
 * One line each way on a fresh connection, before any request: what a connect hook reads and
 * writes. `read` resolves with the next line parsed as JSON (unchecked: the hook validates it).
 */
export interface HandshakeLines {
  read(): Promise<unknown>;
  write(message: unknown): void;
}

/**
 * Runs on every new connection before the client sends anything: where the lead wires the
 * service's challenge (answered by a function in agent/core). Rejecting drops the connection,
 * which counts as a failed attempt and backs off.
 */
export type ConnectHook = (lines: HandshakeLines) => Promise<void>;

/** What the client tells the tray. */
export interface ServiceClientListener {
  /** The connection state changed; `reason` says why when it became unreachable. */
  state(state: ConnectionState, reason: string | null): void;
  /** A fresh status from any answer (subscribe, status:get, checks:run). */
  status(status: AgentStatus): void;
  /** A push the service sent (a USB decision). */
  push(push: IpcPush): void;
}

/** What one client is built from. */
export interface ServiceClientOptions {
  /** The service's socket path or `\\.\pipe\…` name. */
  path: string;
  listener: ServiceClientListener;
  onConnect?: ConnectHook;
  /** Asks for status this often while connected: results change when checks run. */
  pollMs?: number;
  requestTimeoutMs?: number;
  backoff?: Partial<BackoffOptions>;
  timers?: Timers;
  /** Opens the socket; tests may give a path that nothing serves. */
  open?: (path: string) => Socket;
}

/** Reconnection delays: base·2^n, capped, each cut by up to `jitter` of itself. */
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  /** 0..1: how much of each delay may be taken off at random. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1000, capMs: 60_000, jitter: 0.2 };

/** The delay before reconnection attempt `attempt` (0 = first retry). */
export function reconnectDelayMs(
  attempt: number,
  options: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const full = Math.min(options.capMs, options.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(full * (1 - options.jitter * random()));
}

const realTimers: Timers = {
  setTimeout: (task, ms) => setTimeout(task, ms),
  clearTimeout: (handle) => {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

interface Pending {
  resolve(response: IpcResponse): void;
  reject(error: Error): void;
  timer: unknown;
}

/** A request as callers write it: the client adds the id. */
export type RequestBody = IpcRequest extends infer R
  ? R extends IpcRequest
    ? Omit<R, 'id'>
    : never
  : never;

/** The tray's client of the service, with start/stop. */
export class ServiceClient {
  readonly #options: ServiceClientOptions;
  readonly #timers: Timers;
  #state: ConnectionState = 'connecting';
  #socket: Socket | null = null;
  /** Requests may be sent: the hook and the subscription are done. */
  #ready = false;
  #running = false;
  #attempt = 0;
  #nextId = 1;
  #retryTimer: unknown = null;
  #pollTimer: unknown = null;
  readonly #pending = new Map<number, Pending>();
  #lastStatus: AgentStatus | null = null;

  constructor(options: ServiceClientOptions) {
    this.#options = options;
    this.#timers = options.timers ?? realTimers;
  }

  /** Where the connection is now. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** The last status the service sent, or null before the first. */
  get lastStatus(): AgentStatus | null {
    return this.#lastStatus;
  }

  /** Connects, and keeps reconnecting until stop(). */
  start(): void {
    if (!this.#running) {
      this.#running = true;
      this.#connect();
    }
  }

  /** Closes the connection; waiting requests reject. */
  stop(): void {
    this.#running = false;
    this.#clearTimer('retry');
    this.#clearTimer('poll');
    this.#drop('the tray is closing', false);
  }

  /** Sends one request; rejects when the service is unreachable, answers an error, or is silent. */
  async request(body: RequestBody): Promise<AgentStatus> {
    return (await this.answer(body)).status;
  }

  /** As `request`, with the whole answer (the AUP or idle-lock part some channels add). */
  async answer(body: RequestBody): Promise<Extract<IpcResponse, { ok: true }>> {
    const response = await this.#send(body);
    if (!response.ok) {
      throw new Error(response.error);
    }
    return response;
  }

  #send(body: RequestBody, beforeReady = false): Promise<IpcResponse> {
    const socket = this.#socket;
    if (socket === null || (!this.#ready && !beforeReady)) {
      return Promise.reject(new Error('the Hallpass service is not reachable'));
    }
    const id = this.#nextId;
    this.#nextId = this.#nextId >= 2 ** 31 ? 1 : this.#nextId + 1;
    return new Promise((resolve, reject) => {
      const timer = this.#timers.setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error('the Hallpass service did not answer'));
      }, this.#options.requestTimeoutMs ?? 60_000);
      this.#pending.set(id, { resolve, reject, timer });
      socket.write(JSON.stringify({ ...body, id }) + '\n');
    });
  }

  #setState(state: ConnectionState, reason: string | null): void {
    if (state !== this.#state) {
      this.#state = state;
      this.#options.listener.state(state, reason);
    }
  }

  #connect(): void {
    if (!this.#running) {
      return;
    }
    const open = this.#options.open ?? ((path: string) => connect(path));
    const socket = open(this.#options.path);
    this.#socket = socket;
    this.#ready = false;
    socket.setEncoding('utf8');
    let buffer = '';
    /** Lines for the connect hook, before requests begin. */
    const handshake: {
      lines: unknown[];
      waiting: { resolve(line: unknown): void; reject(error: Error): void } | null;
    } = { lines: [], waiting: null };
    // A hook waiting for a line when the connection ends must not wait for ever.
    socket.once('close', () => {
      handshake.waiting?.reject(new Error('the connection closed during the handshake'));
      handshake.waiting = null;
    });

    socket.on('data', (chunk: string) => {
      buffer += chunk;
      for (let newline = buffer.indexOf('\n'); newline !== -1; newline = buffer.indexOf('\n')) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        let message: unknown;
        try {
          message = JSON.parse(line);
        } catch {
          this.#drop('the service sent a line that is not JSON', true);
          return;
        }
        if (!this.#ready && this.#pending.size === 0) {
          // Before the first request everything is the hook's.
          if (handshake.waiting !== null) {
            handshake.waiting.resolve(message);
            handshake.waiting = null;
          } else {
            handshake.lines.push(message);
          }
          continue;
        }
        if (!this.#receive(message)) {
          return;
        }
      }
      if (buffer.length > MAX_ANSWER_BYTES) {
        this.#drop('the service sent a line longer than the tray accepts', true);
      }
    });
    socket.on('error', (error) => {
      this.#drop(`cannot reach the Hallpass service: ${error.message}`, true);
    });
    socket.on('close', () => {
      if (this.#socket === socket) {
        this.#drop('the Hallpass service closed the connection', true);
      }
    });
    socket.on('connect', () => {
      const lines: HandshakeLines = {
        read: () =>
          new Promise((resolve, reject) => {
            if (handshake.lines.length > 0) {
              resolve(handshake.lines.shift());
            } else if (socket.destroyed) {
              reject(new Error('the connection closed during the handshake'));
            } else {
              handshake.waiting = { resolve, reject };
            }
          }),
        write: (message) => {
          socket.write(JSON.stringify(message) + '\n');
        },
      };
      void this.#begin(socket, lines);
    });
  }

  async #begin(socket: Socket, lines: HandshakeLines): Promise<void> {
    try {
      await this.#options.onConnect?.(lines);
      if (this.#socket !== socket) {
        return;
      }
      const answer = await this.#send({ channel: 'events:subscribe' }, true);
      if (this.#socket !== socket) {
        return;
      }
      if (!answer.ok) {
        // A service without pushes still answers requests: connected, polling only.
        await this.#pollNow(socket, true);
      } else {
        this.#gotStatus(answer.status);
      }
      this.#ready = true;
      this.#attempt = 0;
      this.#setState('connected', null);
      this.#schedulePoll();
    } catch (error) {
      if (this.#socket === socket) {
        this.#drop(
          `the connection to the service failed: ${error instanceof Error ? error.message : String(error)}`,
          true,
        );
      }
    }
  }

  /** Takes one checked line; false when the connection was dropped for it. */
  #receive(message: unknown): boolean {
    if (typeof message === 'object' && message !== null && 'push' in message) {
      const push = validate(IpcPushSchema, message);
      if (!push.ok) {
        this.#drop(`the service sent an invalid push: ${describeProblems(push.problems)}`, true);
        return false;
      }
      this.#options.listener.push(push.value);
      return true;
    }
    const checked = validate(IpcResponseSchema, message);
    if (!checked.ok) {
      this.#drop(`the service sent an invalid answer: ${describeProblems(checked.problems)}`, true);
      return false;
    }
    const response = checked.value;
    const pending = this.#pending.get(response.id);
    if (pending === undefined) {
      // An answer to nothing we asked (late, after a time-out): ignored.
      return true;
    }
    this.#pending.delete(response.id);
    this.#timers.clearTimeout(pending.timer);
    if (response.ok) {
      this.#gotStatus(response.status);
    }
    pending.resolve(response);
    return true;
  }

  #gotStatus(status: AgentStatus): void {
    this.#lastStatus = status;
    this.#options.listener.status(status);
  }

  async #pollNow(socket: Socket, beforeReady = false): Promise<void> {
    if (this.#socket !== socket) {
      return;
    }
    const answer = await this.#send({ channel: 'status:get' }, beforeReady);
    if (!answer.ok) {
      throw new Error(answer.error);
    }
  }

  #schedulePoll(): void {
    this.#clearTimer('poll');
    const socket = this.#socket;
    if (!this.#running || socket === null) {
      return;
    }
    this.#pollTimer = this.#timers.setTimeout(() => {
      this.#pollTimer = null;
      this.#pollNow(socket).then(
        () => {
          this.#schedulePoll();
        },
        (error: unknown) => {
          if (this.#socket === socket) {
            this.#drop(`status request failed: ${String(error)}`, true);
          }
        },
      );
    }, this.#options.pollMs ?? 30_000);
  }

  #clearTimer(which: 'retry' | 'poll'): void {
    const handle = which === 'retry' ? this.#retryTimer : this.#pollTimer;
    if (handle !== null) {
      this.#timers.clearTimeout(handle);
    }
    if (which === 'retry') {
      this.#retryTimer = null;
    } else {
      this.#pollTimer = null;
    }
  }

  /** Ends the connection; waiting requests reject; with `retry`, the next attempt is scheduled. */
  #drop(reason: string, retry: boolean): void {
    const socket = this.#socket;
    this.#socket = null;
    this.#ready = false;
    socket?.destroy();
    for (const [id, pending] of this.#pending) {
      this.#timers.clearTimeout(pending.timer);
      pending.reject(new Error(reason));
      this.#pending.delete(id);
    }
    this.#clearTimer('poll');
    if (!this.#running) {
      return;
    }
    if (socket !== null || this.#state !== 'unreachable') {
      this.#setState('unreachable', reason);
    }
    if (retry && this.#retryTimer === null) {
      const delay = reconnectDelayMs(this.#attempt, {
        ...DEFAULT_BACKOFF,
        ...this.#options.backoff,
      });
      this.#attempt++;
      this.#retryTimer = this.#timers.setTimeout(() => {
        this.#retryTimer = null;
        this.#setState('connecting', null);
        this.#connect();
      }, delay);
    }
  }
}
