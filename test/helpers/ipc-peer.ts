// A raw socket to the service that has proven its user first (agent/core/ipc-peer), for tests
// that then write lines of their own on it: the test's own uid (root here) is who it proves.
import { open as openFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { peersFolderFor } from '../../agent/core/ipc-peer/peer-proof.ts';
import { IpcResponseSchema, validate, type IpcResponse } from '../../shared/index.ts';

/** Reads one answer line from `socket`. */
function nextLine(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      const newline = buffer.indexOf('\n');
      if (newline !== -1) {
        socket.off('data', onData);
        socket.off('error', reject);
        if (newline !== buffer.length - 1) {
          socket.unshift(Buffer.from(buffer.slice(newline + 1)));
        }
        resolve(buffer.slice(0, newline));
      }
    };
    socket.on('data', onData);
    socket.on('error', reject);
  });
}

/** Connects to the socket at `path` and proves this process's user on it. */
export async function openProven(path: string): Promise<Socket> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect(path, () => {
      resolve(s);
    });
    s.on('error', reject);
  });
  socket.write('{"id":1,"channel":"peer:challenge"}\n');
  const { nonce } = JSON.parse(await nextLine(socket)) as { nonce: string };
  const file = await openFile(join(peersFolderFor('linux', path), nonce), 'wx', 0o600);
  await file.close();
  socket.write('{"id":2,"channel":"peer:prove"}\n');
  const proved = JSON.parse(await nextLine(socket)) as { ok: boolean };
  if (!proved.ok) {
    throw new Error(`proof refused: ${JSON.stringify(proved)}`);
  }
  socket.pause();
  return socket;
}

/**
 * One request on a fresh proven connection, as the tray makes it; the answer checked against
 * the shared schema (a malformed answer rejects).
 */
export async function askProven(
  path: string,
  request: Record<string, unknown>,
): Promise<IpcResponse> {
  const socket = await openProven(path);
  try {
    socket.write(JSON.stringify({ id: 7, ...request }) + '\n');
    socket.resume();
    const line = await nextLine(socket);
    const checked = validate(IpcResponseSchema, JSON.parse(line));
    if (!checked.ok) {
      throw new Error(`invalid answer: ${line.slice(0, 200)}`);
    }
    return checked.value;
  } finally {
    socket.destroy();
  }
}
