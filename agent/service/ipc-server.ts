// Local IPC for the tray: a Unix socket (named pipe on Windows), one JSON object per line each
// way. The tray runs as the signed-in user and is not trusted: every request is validated with
// the shared schema, lines are bounded, and a check pass runs at most once per interval on request.
import { chmod, mkdir, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import {
  describeProblems,
  IpcRequestSchema,
  IpcResponseSchema,
  validate,
  type AgentStatus,
  type IpcResponse,
} from '../../shared/index.ts';

const MAX_LINE_BYTES = 4096;
const MIN_CHECK_INTERVAL_MS = 30_000;

/** What the IPC server asks of the service. */
export interface IpcHandlers {
  status(): AgentStatus;
  runChecks(): Promise<unknown>;
}

/** Starts listening on `path`; returns a closer. */
export async function startIpcServer(
  path: string,
  handlers: IpcHandlers,
): Promise<() => Promise<void>> {
  const isPipe = path.startsWith('\\\\.\\pipe\\');
  if (!isPipe) {
    await mkdir(dirname(path), { recursive: true });
    // A socket left by a killed service would make listen fail with EADDRINUSE.
    await rm(path, { force: true });
  }
  let lastRun = 0;
  const answer = async (line: string): Promise<IpcResponse> => {
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      return { id: 0, ok: false, error: 'not JSON' };
    }
    const checked = validate(IpcRequestSchema, message);
    if (!checked.ok) {
      const id =
        typeof (message as { id?: unknown }).id === 'number' ? (message as { id: number }).id : 0;
      return {
        id: Number.isInteger(id) ? id : 0,
        ok: false,
        error: `invalid request: ${describeProblems(checked.problems)}`.slice(0, 500),
      };
    }
    const request = checked.value;
    switch (request.channel) {
      case 'status:get':
        return { id: request.id, ok: true, status: handlers.status() };
      case 'checks:run': {
        const now = Date.now();
        if (now - lastRun >= MIN_CHECK_INTERVAL_MS) {
          lastRun = now;
          await handlers.runChecks();
        }
        return { id: request.id, ok: true, status: handlers.status() };
      }
    }
  };
  const server: Server = createServer((socket: Socket) => {
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_LINE_BYTES && !buffer.includes('\n')) {
        socket.end(JSON.stringify({ id: 0, ok: false, error: 'request too long' }) + '\n');
        return;
      }
      let newline = buffer.indexOf('\n');
      while (newline !== -1) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        void answer(line).then((response) => {
          if (!socket.destroyed) {
            socket.write(JSON.stringify(response) + '\n');
          }
        });
        newline = buffer.indexOf('\n');
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      resolve();
    });
  });
  if (!isPipe) {
    // Any signed-in user's tray may ask for status; the channels reveal and change nothing secret.
    await chmod(path, 0o666);
  }
  return () =>
    new Promise((resolve) => {
      server.close(() => {
        resolve();
      });
    });
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
