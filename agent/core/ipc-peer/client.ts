// The client's half of the peer proof, for any client of the service's socket (the tray, the
// `hallpass status` command): plain functions over whatever connection the client keeps.
import { open, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import {
  describeProblems,
  IpcPeerResponseSchema,
  validate,
  type IpcPeer,
} from '../../../shared/index.ts';
import { NONCE_PATTERN } from './peer-proof.ts';

/** Sends one request on the client's connection and resolves with the parsed answer line. */
export type IpcAsk = (request: { channel: 'peer:challenge' | 'peer:prove' }) => Promise<unknown>;

/** The service refused the proof, or answered something that is not an answer. */
export class PeerProofError extends Error {}

function peerAnswer(raw: unknown) {
  const checked = validate(IpcPeerResponseSchema, raw);
  if (!checked.ok) {
    throw new PeerProofError(
      `invalid answer from the service: ${describeProblems(checked.problems)}`,
    );
  }
  if (!checked.value.ok) {
    throw new PeerProofError(`the service refused the proof: ${checked.value.error}`);
  }
  return checked.value;
}

/**
 * Proves this process's user on a connection: asks for a nonce, creates `<peersFolder>/<nonce>`
 * (O_CREAT|O_EXCL, 0600: never an existing file or a link), and asks the service to read its
 * owner. Resolves with who the service now takes the connection to be. Call it first on every
 * new connection (a reconnecting client: on each reconnect).
 */
export async function proveIpcPeer(ask: IpcAsk, peersFolder: string): Promise<IpcPeer> {
  const challenge = peerAnswer(await ask({ channel: 'peer:challenge' }));
  if (!('nonce' in challenge) || !NONCE_PATTERN.test(challenge.nonce)) {
    throw new PeerProofError('the service answered peer:challenge without a nonce');
  }
  const path = join(peersFolder, challenge.nonce);
  const file = await open(path, 'wx', 0o600);
  await file.close();
  try {
    const proved = peerAnswer(await ask({ channel: 'peer:prove' }));
    if (!('peer' in proved)) {
      throw new PeerProofError('the service answered peer:prove without a peer');
    }
    return proved.peer;
  } finally {
    // The service removes it once read; this is for a service that never got that far.
    await unlink(path).catch(() => undefined);
  }
}

/** One connection to the service, one request at a time, each answer a parsed JSON line. */
export interface IpcConnection {
  /** Sends `request` with the next id; resolves with the answer line, parsed, not validated. */
  ask(request: Record<string, unknown>): Promise<unknown>;
  close(): void;
}

/** Connects to the service's socket or pipe; rejects when nothing listens. */
export function connectIpc(path: string, timeoutMs = 30_000): Promise<IpcConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let buffer = '';
    let nextId = 1;
    let waiting: { resolve(value: unknown): void; reject(error: Error): void } | null = null;
    let timer: NodeJS.Timeout | undefined;
    const fail = (error: Error) => {
      clearTimeout(timer);
      const current = waiting;
      waiting = null;
      current?.reject(error);
    };
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const newline = buffer.indexOf('\n');
      if (newline === -1 || waiting === null) {
        return;
      }
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      clearTimeout(timer);
      const current = waiting;
      waiting = null;
      try {
        current.resolve(JSON.parse(line));
      } catch {
        current.reject(new Error('the service answered something that is not JSON'));
      }
    });
    socket.on('error', (error) => {
      reject(error);
      fail(error);
    });
    socket.on('close', () => {
      fail(new Error('the service closed the connection'));
    });
    socket.on('connect', () => {
      resolve({
        ask(request) {
          if (waiting !== null) {
            return Promise.reject(new Error('one request at a time on this connection'));
          }
          return new Promise((resolveAnswer, rejectAnswer) => {
            waiting = { resolve: resolveAnswer, reject: rejectAnswer };
            timer = setTimeout(() => {
              fail(new Error('the service did not answer'));
              socket.destroy();
            }, timeoutMs);
            socket.write(JSON.stringify({ ...request, id: nextId++ }) + '\n');
          });
        },
        close() {
          clearTimeout(timer);
          socket.destroy();
        },
      });
    });
  });
}
