// What the ingest benchmarks (ingest, unchanged, storm) share: the real server on the bench
// PostgreSQL with the bench school and group, a forked client process that exchanges typed
// messages with the server process, and the clients' side of it (enrolment, signed posts, a
// fleet of workers each owning its devices). Each benchmark's experiment stays in its own file.
//
// The client process loads this module too, so the server's modules are imported only inside
// the functions the server process calls.
import { fork, type ChildProcess, type Serializable } from 'node:child_process';
import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  randomUUID,
  sign,
  verify,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { SCHEMA_VERSION, type DeviceFacts } from '../shared/index.ts';
import { signRequest, type SignedRequestHeaders } from '../agent/core/http-signature/sign.ts';
import type { ServerConfig } from '../server/config.ts';
import type { RunningServer } from '../server/main.ts';

// ---------------------------------------------------------------------------------------------
// The server process.

/** The server under load, its config and the bench organisation its devices enrol into. */
export interface IngestServer {
  server: RunningServer;
  config: ServerConfig;
  schoolId: string;
  groupId: string;
}

/**
 * Starts the real server (`startServer`, default settings, an ephemeral port) on `databaseUrl`
 * and makes the school "Bench Academy" with the group "Pupil laptops". `logLevel` is the
 * benchmark's choice: at info, pino writes a line per request (a real, separate cost).
 */
export async function startIngestServer(
  databaseUrl: string,
  logLevel: ServerConfig['logLevel'],
): Promise<IngestServer> {
  const { startServer } = await import('../server/main.ts');
  const { defaultServerConfig } = await import('../server/config.ts');
  const { ensureDeviceGroup, ensureSchool } = await import('../server/store/organisation.ts');
  const config: ServerConfig = { ...defaultServerConfig, databaseUrl, port: 0, logLevel };
  const server = await startServer(config);
  const school = await ensureSchool(server.db, 'Bench Academy');
  const group = await ensureDeviceGroup(server.db, 'Pupil laptops');
  return { server, config, schoolId: school.id, groupId: group.id };
}

/** An enrolment token into the bench school and group for `maxUses` devices, valid a day. */
export async function benchEnrolmentToken(target: IngestServer, maxUses: number): Promise<string> {
  const { createEnrolmentToken } = await import('../server/store/tokens.ts');
  const { token } = await createEnrolmentToken(target.server.db, {
    schoolId: target.schoolId,
    groupId: target.groupId,
    label: 'bench',
    expiresAt: new Date(Date.now() + 86_400_000),
    maxUses,
    createdBy: null,
  });
  return token;
}

/** The server process's end of a forked client process. */
export interface ClientProcess<ToClient, FromClient extends { type: string }> {
  /** The client's pid (undefined if the fork failed), e.g. to raise its limits. */
  readonly pid: number | undefined;
  send(message: ToClient): void;
  /**
   * The next message of this type; messages of other types wait for their own call. Rejects
   * when the client process ends without sending one.
   */
  next<T extends FromClient['type']>(type: T): Promise<Extract<FromClient, { type: T }>>;
  /** Resolves when the client process has ended with 0; rejects when it ended otherwise. */
  ended(): Promise<void>;
  /** Closes the channel: a client waiting for messages then ends. */
  disconnect(): void;
  /** Ends the client process if it still runs. */
  kill(): void;
}

/**
 * Forks `benchFile` (the benchmark's own `import.meta.url`) with the argument `role` (`client`,
 * which `isClientProcess` sees, unless the benchmark forks other children, e.g. server
 * instances); no exec arguments, the console shared. The process counts as ended on its 'close'
 * (exited, and every message it sent read).
 */
export function forkClient<ToClient, FromClient extends { type: string }>(
  benchFile: string,
  role = 'client',
): ClientProcess<ToClient, FromClient> {
  const child: ChildProcess = fork(fileURLToPath(benchFile), [role], {
    execArgv: [],
    stdio: 'inherit',
  });
  const messages: FromClient[] = [];
  const waiters: (() => void)[] = [];
  let failure: Error | null = null;
  let closed = false;
  const wake = () => {
    waiters.splice(0).forEach((w) => {
      w();
    });
  };
  child.on('message', (message: FromClient) => {
    messages.push(message);
    wake();
  });
  const ended = new Promise<void>((resolve, reject) => {
    child.once('close', (code) => {
      closed = true;
      if (code === 0) {
        resolve();
      } else {
        failure = new Error(`client process exited with ${String(code)}`);
        reject(failure);
      }
      wake();
    });
  });
  // Nobody need wait for the end (a client killed after its last message ends with null).
  ended.catch(() => undefined);
  return {
    pid: child.pid,
    send: (message) => {
      child.send(message as Serializable);
    },
    next: async <T extends FromClient['type']>(type: T) => {
      for (;;) {
        const index = messages.findIndex((m) => m.type === type);
        if (index >= 0) {
          return messages.splice(index, 1)[0] as Extract<FromClient, { type: T }>;
        }
        if (closed) {
          throw failure ?? new Error(`client process ended before sending '${type}'`);
        }
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
    ended: () => ended,
    disconnect: () => {
      child.disconnect();
    },
    kill: () => {
      child.kill();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The client process.

/** True in the process `forkClient` started. */
export function isClientProcess(): boolean {
  return process.argv[2] === 'client';
}

/**
 * The client process's entry: runs `clients` with the server process's first message. A failure
 * ends the process with 1 and its reason on stderr. When `clients` is done, `'disconnect'` closes
 * the channel (the process then ends); `'stay'` keeps it open for the messages the clients go on
 * listening for, until the server process disconnects.
 */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- IPC carries no types: the start message is what the caller's server process sends
export function serveAsClient<Start>(
  clients: (start: Start) => Promise<void>,
  whenDone: 'disconnect' | 'stay',
): void {
  process.once('message', (start: Start) => {
    clients(start).then(
      () => {
        if (whenDone === 'disconnect') {
          process.disconnect();
        }
      },
      (error: unknown) => {
        process.stderr.write(`client failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  });
}

/** Sends a message (its `type` first) to the server process; resolves once it is written. */
export function sendToServer(message: Serializable): Promise<void> {
  return new Promise<void>((resolve) => {
    process.send?.(message, () => {
      resolve();
    });
  });
}

/** A device's public key as /api/v1/enroll takes it (and `devices.public_key_spki` holds it). */
export function enrolPublicKey(publicKeyPem: string): string {
  return Buffer.from(publicKeyPem.replace(/-----[^-]+-----|\s/g, ''), 'base64').toString(
    'base64url',
  );
}

/** Enrols one device through the real /api/v1/enroll; its device id. Throws unless 201. */
export async function enrolDevice(
  serverUrl: string,
  token: string,
  publicKeyPem: string,
  facts: DeviceFacts,
): Promise<string> {
  const response = await fetch(`${serverUrl}/api/v1/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      schemaVersion: SCHEMA_VERSION,
      token,
      publicKey: enrolPublicKey(publicKeyPem),
      facts,
    }),
  });
  if (response.status !== 201) {
    throw new Error(`enrolment failed: ${String(response.status)} ${await response.text()}`);
  }
  return ((await response.json()) as { deviceId: string }).deviceId;
}

/** Runs `work` on every item, in order, `parallel` at a time. */
export async function fewAtATime<T>(
  items: readonly T[],
  parallel: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let item = items[next++]; item !== undefined; item = items[next++]) {
        await work(item);
      }
    }),
  );
}

/** The answer to a signed POST: status, headers, and the time from sending to the body read. */
export interface SignedAnswer {
  status: number;
  headers: Headers;
  ms: number;
}

/**
 * POSTs the JSON `body` to `url` signed as the device (RFC 9421, P-256) and reads the answer
 * through. `ms` leaves out the signing: from the request sent to the answer's body read.
 */
export async function postSigned(
  url: string,
  body: string,
  device: { id: string; privateKey: KeyObject },
): Promise<SignedAnswer> {
  return postPrepared(prepareSigned(url, body, device));
}

/** A signed request ready to post: a device's batch waiting in its outbox, signed. */
export interface PreparedRequest {
  url: string;
  body: string;
  headers: SignedRequestHeaders;
}

/** Signs `body` as `device` would now, to post later with postPrepared. */
export function prepareSigned(
  url: string,
  body: string,
  device: { id: string; privateKey: KeyObject },
): PreparedRequest {
  const headers = signRequest({
    method: 'POST',
    url,
    body,
    keyId: device.id,
    privateKey: device.privateKey,
    now: new Date(),
  });
  return { url, body, headers };
}

/** Posts a request prepared by prepareSigned. */
export async function postPrepared(request: PreparedRequest): Promise<SignedAnswer> {
  const t0 = performance.now();
  const response = await fetch(request.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...request.headers },
    body: request.body,
  });
  await response.arrayBuffer();
  return { status: response.status, headers: response.headers, ms: performance.now() - t0 };
}

/**
 * Keeps `concurrency` workers busy for `seconds`: device i belongs to worker i mod concurrency,
 * which takes its devices in turn, so no device has two requests in flight (as on a real
 * fleet). The seconds it took, from the first request to the last answer.
 */
export async function eachDeviceInTurn<D>(
  devices: readonly D[],
  concurrency: number,
  seconds: number,
  work: (device: D) => Promise<void>,
): Promise<number> {
  const until = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      const mine = devices.filter((_d, i) => i % concurrency === w);
      for (let i = 0; performance.now() < until; i++) {
        const device = mine[i % mine.length];
        if (device === undefined) {
          return;
        }
        await work(device);
      }
    }),
  );
  return (performance.now() - t0) / 1000;
}

// ---------------------------------------------------------------------------------------------
// After the run, in the server process.

/**
 * CPU seconds this process needs for `rounds` signature checks of `body` as the server does
 * them: the P-256 verify alone, and with the per-request key import (SPKI DER) and body digest.
 */
export function signatureCheckCost(
  body: string | Buffer,
  rounds: number,
): { verifySeconds: number; allSeconds: number } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const base = Buffer.from(
    `"@method": POST\n"@path": /api/v1/reports\n"@query": ?\n"content-digest": sha-256=:${createHash('sha256').update(body).digest('base64')}:\n"@signature-params": ("@method" "@path" "@query" "content-digest");created=1700000000;nonce="${randomUUID()}";keyid="${randomUUID()}";alg="ecdsa-p256-sha256"`,
  );
  const signature = sign('sha256', base, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  // Warm-up, then time.
  for (let i = 0; i < 200; i++) {
    verify('sha256', base, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
  }
  let t0 = cpu();
  for (let i = 0; i < rounds; i++) {
    verify('sha256', base, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
  }
  const verifySeconds = cpu() - t0;
  t0 = cpu();
  for (let i = 0; i < rounds; i++) {
    createHash('sha256').update(body).digest();
    const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    verify('sha256', base, { key, dsaEncoding: 'ieee-p1363' }, signature);
  }
  return { verifySeconds, allSeconds: cpu() - t0 };
}
