// The service's IPC socket (agent/service/ipc-server.ts) as the service tests use it: the real
// server in a temporary folder of its own, a status to answer with, and clients that write
// newline-JSON requests and read the answers and pushes, either plain (unproven) or proven as
// this process's user first (ipc-peer.ts), as the tray does.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import type { IpcHandlers } from '../../agent/service/ipc-channels.ts';
import { startIpcServer, type IpcLimits } from '../../agent/service/ipc-server.ts';
import type { AgentStatus } from '../../shared/index.ts';
import { openProven } from './ipc-peer.ts';

/** The status of an agent that is not enrolled and has checked, queued and sent nothing yet. */
export function unenrolledStatus(over: Partial<AgentStatus> = {}): AgentStatus {
  return {
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
    ...over,
  };
}

/**
 * The service's handlers for a test: `status` answers `unenrolledStatus()` and `runChecks`
 * resolves at once unless given; every other handler is absent (its channels refused) unless
 * given.
 */
export type TestIpcHandlers = Omit<IpcHandlers, 'status' | 'runChecks'> &
  Partial<Pick<IpcHandlers, 'status' | 'runChecks'>>;

export interface ServiceSocketOptions {
  limits?: Partial<IpcLimits>;
  /** The folder's mode before the server starts (mkdtemp makes it 0700: root's only). */
  folderMode?: number;
}

/** A running server: its folder, its socket, and a close that also removes the folder. */
export interface ServiceSocket {
  folder: string;
  path: string;
  close: () => Promise<void>;
}

/** Starts the real IPC server on `agent.sock` in a fresh temporary folder. */
export async function startServiceSocket(
  handlers: TestIpcHandlers = {},
  options: ServiceSocketOptions = {},
): Promise<ServiceSocket> {
  const folder = await mkdtemp(join(tmpdir(), 'hallpass-ipc-'));
  if (options.folderMode !== undefined) {
    await chmod(folder, options.folderMode);
  }
  const path = join(folder, 'agent.sock');
  const status = unenrolledStatus();
  const close = await startIpcServer(
    path,
    { status: () => status, runChecks: () => Promise.resolve(), ...handlers },
    options.limits,
  );
  return {
    folder,
    path,
    close: async () => {
      await close();
      await rm(folder, { recursive: true, force: true });
    },
  };
}

/** As `startServiceSocket`, closed (and its folder removed) when the running test finishes. */
export async function serviceSocketForTest(
  handlers: TestIpcHandlers = {},
  options: ServiceSocketOptions = {},
): Promise<ServiceSocket> {
  const served = await startServiceSocket(handlers, options);
  onTestFinished(() => served.close());
  return served;
}

/**
 * How a client connects: `plain` as any local program does (unproven), `proven` having proven
 * this process's user first as the tray does.
 */
export type ClientKind = 'plain' | 'proven';

/** Connects without proving anything; resolves once connected. */
export function connectPlain(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path, () => {
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

/** A connected socket of `kind`, paused or not: write, then resume to read. */
function connectAs(path: string, kind: ClientKind): Promise<Socket> {
  return kind === 'proven' ? openProven(path) : connectPlain(path);
}

/** Writes `text` on a fresh connection of `kind` and resolves with the first line answered. */
export async function firstAnswer(path: string, kind: ClientKind, text: string): Promise<string> {
  const socket = await connectAs(path, kind);
  return new Promise((resolve, reject) => {
    socket.write(text);
    socket.resume();
    let buffer = '';
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      if (buffer.includes('\n')) {
        socket.end();
        resolve(buffer.slice(0, buffer.indexOf('\n')));
      }
    });
    socket.on('error', reject);
  });
}

/** Writes `lines` on one connection of `kind` and resolves with the first `count` answers (or more). */
export async function exchange(
  path: string,
  kind: ClientKind,
  lines: string[],
  count: number,
): Promise<string[]> {
  const socket = await connectAs(path, kind);
  return new Promise((resolve, reject) => {
    socket.write(lines.join(''));
    socket.resume();
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const answers = buffer.split('\n').filter((line) => line !== '');
      if (answers.length >= count) {
        socket.end();
        resolve(answers);
      }
    });
    socket.on('error', reject);
  });
}

/** As `exchange`, each answer parsed. */
export async function exchangeJson(
  path: string,
  kind: ClientKind,
  lines: string[],
  count: number,
): Promise<Record<string, unknown>[]> {
  const answers = await exchange(path, kind, lines, count);
  return answers.map((a) => JSON.parse(a) as Record<string, unknown>);
}

/** Answer lines by the request id each names. */
export function answersById(answers: string[]): Map<number, string> {
  return new Map(answers.map((a) => [(JSON.parse(a) as { id: number }).id, a]));
}

/** A proven connection that collects every line it reads, parsed: answers and pushes. */
export interface LineClient {
  socket: Socket;
  lines: unknown[];
  send(request: unknown): boolean;
  /** Resolves once `count` lines have been read in all. */
  until(count: number): Promise<void>;
}

/** Opens a `LineClient` on `path`, proven first as the tray is. */
export async function lineClient(path: string): Promise<LineClient> {
  const socket = await openProven(path);
  const lines: unknown[] = [];
  let buffer = '';
  const waiters: { count: number; resolve: () => void }[] = [];
  socket.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline = buffer.indexOf('\n');
    while (newline !== -1) {
      lines.push(JSON.parse(buffer.slice(0, newline)));
      buffer = buffer.slice(newline + 1);
      newline = buffer.indexOf('\n');
    }
    for (const waiter of waiters.filter((w) => lines.length >= w.count)) {
      waiter.resolve();
    }
  });
  socket.resume();
  return {
    socket,
    lines,
    send: (request: unknown) => socket.write(JSON.stringify(request) + '\n'),
    until: (count: number) =>
      new Promise<void>((resolve) => {
        if (lines.length >= count) {
          resolve();
        } else {
          waiters.push({ count, resolve });
        }
      }),
  };
}
