// Benchmark: Monday-morning storms. Every device of a trust returns at once with one batch
// waiting in its outbox; how fast does the server on PostgreSQL land them all, and how long
// does it tell devices to wait? Next to it, in the same run, the steady ingest capacity of the
// same server: the goal is a drain rate ≥ 0.8 × that capacity, and no Retry-After longer than
// the drain needed. Writes bench/RESULTS.md.
//
// Devices are enrolled beforehand with SQL (their real P-256 public keys, as /enroll stores
// them); each then signs and posts one batch over loopback HTTP, and on a 429 waits as the agent
// does: the agent's own RetrySchedule with the server's Retry-After (time is not compressed).
// Server in this process (startServer, default admission settings), clients in forked children.
//
// BENCH_STORMS (default "1000,5000,15000,30000") sets the storm sizes, BENCH_STEADY_SECONDS
// (default 15) the measured steady phase. A storm needs a socket per device in a server process
// and in a client process. One that a process's open-file limit (less SPARE_FILES) cannot hold
// runs against several server instances (forked processes calling startServer on the same
// PostgreSQL, devices assigned round-robin) and from several client processes that start at one
// moment; its drain is compared with a steady phase against as many instances.
// BENCH_STORM_INSTANCES: "auto" (default: the fewest instances that fit, one when the limit
// allows) or a fixed count for every storm; BENCH_STORM_PROCESS_SOCKETS lowers the sockets a
// process may hold (to try the split with small storms).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomUUID, type KeyObject } from 'node:crypto';
import os from 'node:os';
import pg from 'pg';
import {
  SCHEMA_VERSION,
  type CheckId,
  type CheckStatus,
  type ComplianceReport,
  type DeviceFacts,
} from '../shared/index.ts';
import { generateDeviceKeyPair } from '../agent/core/http-signature/sign.ts';
import { DEFAULT_BACKOFF, RetrySchedule, parseRetryAfter } from '../agent/core/outbox/backoff.ts';
import {
  type ClientProcess,
  eachDeviceInTurn,
  enrolPublicKey,
  forkClient,
  isClientProcess,
  postPrepared,
  postSigned,
  prepareSigned,
  type PreparedRequest,
  sendToServer,
  startIngestServer,
} from './ingest-harness.ts';
import type { RunningServer } from '../server/main.ts';
import { median, percentile, recordResults } from './results-file.ts';
import { simulatedFacts } from './simulated-facts.ts';

const STORMS = (process.env.BENCH_STORMS ?? '1000,5000,15000,30000').split(',').map(Number);
/** Descriptors a process needs besides one socket per device (PostgreSQL, files, the pipe). */
const SPARE_FILES = 1000;
const STEADY_SECONDS = Number(process.env.BENCH_STEADY_SECONDS ?? 15);
const STEADY_DEVICES = 200;
/** The server's PostgreSQL pool (openPostgres's default). */
const POOL_SIZE = 10;
const STEADY_CONCURRENCY = 32;
const WARMUP_SECONDS = 3;
/**
 * A device that would try again later than this after the storm began stops trying (and is
 * counted), so that a storm that cannot land (a server gone, every answer an error) still ends.
 * Well past the server's longest Retry-After (600 s) given more than once.
 */
const GIVE_UP_SECONDS = 3600;
/** A weekend's outbox: a few reports (one per start-up and check pass), one batch. */
const REPORTS_PER_BATCH = 5;
const CHECKS: readonly CheckId[] = [
  'disk-encryption',
  'antivirus',
  'os-updates',
  'firewall',
  'screen-lock',
];

// ---------------------------------------------------------------------------------------------
// Devices and their batches (client process).

interface Device {
  id: string;
  privateKey: KeyObject;
  publicKey: string;
  facts: DeviceFacts;
  clock: number;
}

function newDevice(n: number): Device {
  const keys = generateDeviceKeyPair();
  return {
    id: randomUUID(),
    privateKey: keys.privateKey,
    publicKey: enrolPublicKey(keys.publicKeyPem),
    facts: simulatedFacts(n),
    clock: Date.now() - 3 * 86_400_000,
  };
}

function batchBody(device: Device): string {
  const reports: ComplianceReport[] = Array.from({ length: REPORTS_PER_BATCH }, () => {
    device.clock += 15 * 60_000;
    const at = new Date(device.clock).toISOString();
    const statuses: CheckStatus[] = CHECKS.map(() => (Math.random() < 0.05 ? 'fail' : 'pass'));
    return {
      schemaVersion: SCHEMA_VERSION,
      id: randomUUID(),
      createdAt: at,
      policy: { name: 'Pupil laptops', version: 1 },
      device: device.facts,
      overall: statuses.includes('fail') ? 'fail' : 'pass',
      results: CHECKS.map((checkId, i) => ({
        checkId,
        status: statuses[i] ?? 'pass',
        summary: `${checkId}: ${statuses[i] === 'pass' ? 'compliant' : 'needs attention'}`,
        evidence: { source: 'bench', probe: `${checkId}-probe`, values: { lastUpdate: at } },
        measuredAt: at,
        durationMs: 12.5,
      })),
    };
  });
  return JSON.stringify({ schemaVersion: SCHEMA_VERSION, reports, events: [] });
}

async function post(
  url: string,
  device: Device,
  prepared?: PreparedRequest,
): Promise<{ status: number; retryAfter: string | null }> {
  const answer = await (prepared === undefined
    ? postSigned(url, batchBody(device), device)
    : postPrepared(prepared));
  return { status: answer.status, retryAfter: answer.headers.get('retry-after') };
}

/** Where the clients' devices enrol: the database and the bench school and group. */
interface Organisation {
  databaseUrl: string;
  schoolId: string;
  groupId: string;
}

/** What the server process tells a client process (each is forked for one phase or storm). */
type ToClient =
  | ({ type: 'steady'; urls: string[]; concurrency: number } & Organisation)
  | ({
      type: 'prepare';
      urls: string[];
      /** This client's devices, and the storm-wide index of its first (for the round-robin). */
      devices: number;
      first: number;
      /** The number of its first device, for the hostnames (pupil-lt-00042). */
      number: number;
    } & Organisation)
  /** Start the storm at this wall-clock time (ms since the epoch): the same for every client. */
  | { type: 'go'; at: number };

type FromClient =
  | { type: 'steady'; result: SteadyResult }
  | { type: 'ready' }
  | { type: 'storm'; result: ClientStormResult };

/** What a server instance (a forked child) is told, and answers. */
type ToInstance = { type: 'start'; databaseUrl: string } | { type: 'stop' };
type FromInstance = { type: 'ready'; url: string; schoolId: string; groupId: string };

interface SteadyResult {
  reportsPerSecond: number;
  refused: number;
  latencyP50: number;
  latencyP99: number;
}

/** One client process's share of a storm; times in seconds from the common start. */
interface ClientStormResult {
  devices: number;
  /** When this client's last device landed. */
  landSeconds: number;
  landed: number[];
  refusals: number;
  devicesRefused: number;
  longestRetryAfterSeconds: number;
  latestPromiseSeconds: number;
  maxTries: number;
  /** Devices that stopped trying after GIVE_UP_SECONDS without landing. */
  gaveUp: number;
  /** Tries that got no HTTP answer or one other than 200/429, by cause (ECONNRESET, HTTP 503…). */
  errors: Record<string, number>;
}

interface StormResult {
  devices: number;
  landSeconds: number;
  reportsPerSecond: number;
  refusals: number;
  devicesRefused: number;
  longestRetryAfterSeconds: number;
  /** Of each device told to wait: the time it was told at plus the wait, against the storm's end. */
  latestPromiseSeconds: number;
  landP50: number;
  landP99: number;
  maxTries: number;
  gaveUp: number;
  errors: Record<string, number>;
}

async function enrol(message: Organisation, devices: Device[]): Promise<void> {
  const client = new pg.Client({ connectionString: message.databaseUrl });
  await client.connect();
  try {
    for (let i = 0; i < devices.length; i += 1000) {
      const part = devices.slice(i, i + 1000);
      await client.query(
        `insert into devices (id, school_id, group_id, public_key_spki, machine_id_hash, hostname, serial, os_name, facts, enrolled_at)
         select id, $1, $2, key, mid, host, serial, 'windows', facts, now()
           from unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::jsonb[])
             as t(id, key, mid, host, serial, facts)`,
        [
          message.schoolId,
          message.groupId,
          part.map((d) => d.id),
          part.map((d) => d.publicKey),
          part.map((d) => d.facts.machineIdHash),
          part.map((d) => d.facts.hostname),
          part.map((d) => d.facts.serial),
          part.map((d) => JSON.stringify(d.facts)),
        ],
      );
    }
    await client.query('vacuum analyze devices');
  } finally {
    await client.end();
  }
}

async function steady(
  urls: string[],
  concurrency: number,
  devices: Device[],
): Promise<SteadyResult> {
  // Device n posts to instance n mod N, as a DNS round-robin or a load balancer would send it.
  const urlOf = new Map(devices.map((d, n) => [d, urls[n % urls.length] ?? '']));
  const run = async (seconds: number) => {
    const latencies: number[] = [];
    let refused = 0;
    let batches = 0;
    let lastRefusal = 0;
    const elapsed = await eachDeviceInTurn(devices, concurrency, seconds, async (device) => {
      const t = performance.now();
      const { status } = await post(urlOf.get(device) ?? '', device);
      if (status === 200) {
        batches++;
        latencies.push(performance.now() - t);
      } else {
        refused++;
        lastRefusal = status;
      }
    });
    if (batches === 0) {
      throw new Error(
        `the steady phase landed no batch (last answer: HTTP ${String(lastRefusal)})`,
      );
    }
    return {
      reportsPerSecond: (batches * REPORTS_PER_BATCH) / elapsed,
      refused,
      latencyP50: median(latencies),
      latencyP99: percentile(latencies, 99),
    };
  };
  await run(WARMUP_SECONDS);
  return run(STEADY_SECONDS);
}

/** Why a try got no usable answer: the socket error's code (ECONNRESET, EMFILE…) or the status. */
function errorKind(error: unknown): string {
  let cause: unknown = error;
  for (let depth = 0; depth < 5 && cause instanceof Error; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') {
      return code;
    }
    cause = cause.cause;
  }
  return error instanceof Error ? error.message.slice(0, 60) : 'unknown error';
}

/**
 * This client's devices of a storm: each posts its batch signed beforehand at `t0` (a
 * performance.now() time) to its instance, and on a 429 waits as the agent does.
 */
async function storm(
  devices: readonly { device: Device; url: string; first: PreparedRequest }[],
  t0: number,
  label: string,
): Promise<ClientStormResult> {
  const landed: number[] = [];
  let refusals = 0;
  let devicesRefused = 0;
  let longest = 0;
  let latestPromise = 0;
  let maxTries = 0;
  let gaveUp = 0;
  const errors: Record<string, number> = {};
  let errorCount = 0;
  // Progress on stderr: a storm that stalls (devices backing off after connection errors)
  // shows why while it runs.
  const progress = setInterval(() => {
    process.stderr.write(
      `  ${label} ${((performance.now() - t0) / 1000).toFixed(0)} s: ${String(landed.length)} of ${String(devices.length)} landed, ${String(refusals)} × 429, ${String(errorCount)} errors, longest Retry-After ${longest.toFixed(0)} s\n`,
    );
  }, 5000);
  await Promise.all(
    devices.map(async ({ device, url, first }) => {
      // The agent's own schedule: what it does with the server's Retry-After.
      const schedule = new RetrySchedule(DEFAULT_BACKOFF, Math.random, () => performance.now());
      for (let tries = 1; ; tries++) {
        let answer: { status: number; retryAfter: string | null };
        try {
          answer = await post(url, device, tries === 1 ? first : undefined);
        } catch (error) {
          // A reset or a refused socket (ECONNRESET, EMFILE) is counted, never fatal: the device
          // backs off and tries again, as the agent does.
          const kind = errorKind(error);
          if (errorCount === 0) {
            process.stderr.write(`  ${label} first connection error: ${String(error)} (${kind})\n`);
          }
          errors[kind] = (errors[kind] ?? 0) + 1;
          errorCount++;
          answer = { status: 0, retryAfter: null };
        }
        if (answer.status === 200) {
          landed.push((performance.now() - t0) / 1000);
          maxTries = Math.max(maxTries, tries);
          return;
        }
        if (answer.status === 429) {
          refusals++;
          if (tries === 1) {
            devicesRefused++;
          }
        } else if (answer.status !== 0) {
          const kind = `HTTP ${String(answer.status)}`;
          errors[kind] = (errors[kind] ?? 0) + 1;
          errorCount++;
        }
        const ms = parseRetryAfter(answer.retryAfter, Date.now());
        if (ms !== undefined) {
          longest = Math.max(longest, ms / 1000);
          latestPromise = Math.max(latestPromise, (performance.now() - t0 + ms) / 1000);
        }
        const at = schedule.recordFailure(ms);
        if (at - t0 > GIVE_UP_SECONDS * 1000) {
          gaveUp++;
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, at - performance.now())));
      }
    }),
  );
  clearInterval(progress);
  return {
    devices: devices.length,
    landSeconds: (performance.now() - t0) / 1000,
    landed,
    refusals,
    devicesRefused,
    longestRetryAfterSeconds: longest,
    latestPromiseSeconds: latestPromise,
    maxTries,
    gaveUp,
    errors,
  };
}

/** Merges the client processes' shares of one storm. */
function mergeStorm(parts: readonly ClientStormResult[]): StormResult {
  const devices = parts.reduce((sum, p) => sum + p.devices, 0);
  const landSeconds = Math.max(...parts.map((p) => p.landSeconds));
  const landed = parts.flatMap((p) => p.landed);
  const errors: Record<string, number> = {};
  for (const part of parts) {
    for (const [kind, count] of Object.entries(part.errors)) {
      errors[kind] = (errors[kind] ?? 0) + count;
    }
  }
  return {
    devices,
    landSeconds,
    // Batches landed (all of them, unless devices gave up).
    reportsPerSecond: (landed.length * REPORTS_PER_BATCH) / landSeconds,
    refusals: parts.reduce((sum, p) => sum + p.refusals, 0),
    devicesRefused: parts.reduce((sum, p) => sum + p.devicesRefused, 0),
    longestRetryAfterSeconds: Math.max(...parts.map((p) => p.longestRetryAfterSeconds)),
    latestPromiseSeconds: Math.max(...parts.map((p) => p.latestPromiseSeconds)),
    landP50: median(landed),
    landP99: percentile(landed, 99),
    maxTries: Math.max(...parts.map((p) => p.maxTries)),
    gaveUp: parts.reduce((sum, p) => sum + p.gaveUp, 0),
    errors,
  };
}

/**
 * A client process: one steady phase, or one storm's share of devices (prepare: make, enrol and
 * sign them, then say ready; go: post them all at the common start). It ends when its work is
 * sent, and also when the server process goes away (no orphan left posting).
 */
function runClient(): void {
  let done = false;
  let prepared: { device: Device; url: string; first: PreparedRequest }[] = [];
  let label = 'client';
  // Its answer is written by now; ending at once closes its sockets, so the server does not
  // carry them (kept alive) into the next storm.
  const finish = () => {
    done = true;
    process.disconnect();
    process.exit(0);
  };
  const fail = (error: unknown) => {
    process.stderr.write(`${label} failed: ${String(error)}\n`);
    process.exit(1);
  };
  process.on('disconnect', () => {
    if (!done) {
      process.stderr.write(`${label}: the server process went away; ending\n`);
      process.exit(1);
    }
  });
  process.on('message', (message: ToClient) => {
    if (message.type === 'steady') {
      const devices = Array.from({ length: STEADY_DEVICES }, (_, n) => newDevice(n));
      enrol(message, devices)
        .then(() => steady(message.urls, message.concurrency, devices))
        .then((result) => sendToServer({ type: 'steady', result } satisfies FromClient))
        .then(finish, fail);
    } else if (message.type === 'prepare') {
      label = `devices ${String(message.first + 1)}–${String(message.first + message.devices)}`;
      const devices = Array.from({ length: message.devices }, (_, i) =>
        newDevice(message.number + i),
      );
      enrol(message, devices)
        .then(() => {
          // Each device's batch is in its outbox, signed, before the storm: the devices' own
          // work of building and signing is theirs, not the server's, and on this machine it
          // would take the cores the server needs (thousands of P-256 signatures in the first
          // second). Retries sign afresh, as the agent does.
          prepared = devices.map((device, i) => {
            const url = message.urls[(message.first + i) % message.urls.length] ?? '';
            return { device, url, first: prepareSigned(url, batchBody(device), device) };
          });
          return sendToServer({ type: 'ready' } satisfies FromClient);
        })
        .catch(fail);
    } else {
      // Every client starts at the same wall-clock moment (one machine, one clock).
      const t0 = performance.now() + (message.at - Date.now());
      new Promise((resolve) => setTimeout(resolve, Math.max(0, t0 - performance.now())))
        .then(() => storm(prepared, t0, label))
        .then((result) => sendToServer({ type: 'storm', result } satisfies FromClient))
        .then(finish, fail);
    }
  });
}

/**
 * A server instance: `startIngestServer` (default settings, log level warn) on the bench
 * PostgreSQL; says where it listens, and stops when the server process disconnects or goes away.
 */
function runInstance(): void {
  let server: RunningServer | null = null;
  const stop = () => {
    (server === null ? Promise.resolve() : server.stop()).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  // The server process went away (failed, killed): stop, leave no orphan.
  process.once('disconnect', stop);
  process.on('message', (message: ToInstance) => {
    if (message.type === 'stop') {
      stop();
      return;
    }
    startIngestServer(message.databaseUrl, 'warn').then(
      (started) => {
        server = started.server;
        process.send?.({
          type: 'ready',
          url: started.server.url,
          schoolId: started.schoolId,
          groupId: started.groupId,
        } satisfies FromInstance);
      },
      (error: unknown) => {
        process.stderr.write(`server instance failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  });
}

if (isClientProcess()) {
  runClient();
} else if (process.argv[2] === 'instance') {
  runInstance();
} else {
  await main();
}

// ---------------------------------------------------------------------------------------------
// The server process.

/** Raises a process's open-file limit (root): 30,000 devices hold 30,000 sockets at once. */
function raiseFileLimit(pid: number): string {
  try {
    execFileSync('prlimit', ['--pid', String(pid), '--nofile=200000:200000'], { stdio: 'pipe' });
    return '200,000';
  } catch {
    return 'unchanged (prlimit failed)';
  }
}

/** A process's open-file limit (soft), or null if prlimit cannot say. */
function fileLimit(pid: number): number | null {
  try {
    const out = execFileSync(
      'prlimit',
      ['--pid', String(pid), '--nofile', '--raw', '--noheadings', '--output', 'SOFT'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    ).trim();
    return /^[0-9]+$/.test(out) ? Number(out) : null;
  } catch {
    return null;
  }
}

/** A process's CPU seconds (user + system) from /proc/<pid>/stat; null if unreadable. */
function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
    // Fields after the ")" closing the command name: state(3) … utime(14) stime(15).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ on Linux
  } catch {
    return null;
  }
}

/** A process's resident memory in bytes (VmRSS in /proc/<pid>/status); null if unreadable. */
function processRss(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
    return kb === undefined ? null : Number(kb) * 1024;
  } catch {
    return null;
  }
}

/**
 * TCP connections dropped because a listening socket's accept queue was full (TcpExt
 * ListenOverflows in /proc/net/netstat: this network namespace, every process); null if
 * unreadable. A storm's devices whose connections are dropped see resets and time-outs.
 */
function listenOverflows(): number | null {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    const names = lines.find((l) => l.startsWith('TcpExt:') && /[A-Za-z]/.test(l.slice(7)));
    const values = lines.find((l) => l.startsWith('TcpExt:') && /^TcpExt:[\s\d]+$/.test(l));
    const index = names?.split(/\s+/).indexOf('ListenOverflows') ?? -1;
    const value = index < 0 ? undefined : values?.split(/\s+/)[index];
    return value === undefined ? null : Number(value);
  } catch {
    return null;
  }
}

/** A server the storm posts to: the benchmark process itself, or a forked instance. */
interface Instance {
  url: string;
  pid: number;
}

/** One storm's plan: how many server instances and client processes it takes. */
interface Plan {
  size: number;
  instances: number;
  clients: number;
}

type StormRow = StormResult &
  Plan & {
    steady: number;
    serverCpu: (number | null)[];
    pgCpu: number | null;
    /** Connections the kernel dropped from full accept queues during the storm (any process). */
    listenOverflows: number | null;
    rssMb: (number | null)[];
  };

/**
 * The instances each storm needs: BENCH_STORM_INSTANCES, or with "auto" the fewest whose sockets
 * (a storm's devices spread round-robin) fit under `perProcess`; and client processes enough
 * that none holds more than `perProcess`. A storm no plan fits gets a reason instead.
 */
function plan(
  sizes: readonly number[],
  perProcess: number,
  setting: string,
  maxInstances: number,
): { plans: Plan[]; notRun: { size: number; why: string }[] } {
  const fixed = setting === 'auto' ? null : Number(setting);
  if (fixed !== null && !(Number.isInteger(fixed) && fixed >= 1)) {
    throw new Error(`BENCH_STORM_INSTANCES must be "auto" or a whole number ≥ 1, not "${setting}"`);
  }
  const plans: Plan[] = [];
  const notRun: { size: number; why: string }[] = [];
  for (const size of sizes) {
    const instances = fixed ?? Math.max(1, Math.ceil(size / perProcess));
    const clients = Math.max(1, Math.ceil(size / perProcess));
    if (Math.ceil(size / instances) > perProcess) {
      notRun.push({
        size,
        why: `${String(instances)} instance(s) would hold ${Math.ceil(size / instances).toLocaleString('en-GB')} sockets each, over the ${perProcess.toLocaleString('en-GB')} a process can hold here`,
      });
    } else if (instances > maxInstances) {
      notRun.push({
        size,
        why: `${String(instances)} instances with pools of 10 need more connections than PostgreSQL's max_connections allows`,
      });
    } else {
      plans.push({ size, instances, clients });
    }
  }
  return { plans, notRun };
}

async function main(): Promise<void> {
  const { loadNote, postgresCpuSeconds, sourceState, startBenchPostgres } =
    await import('./postgres.ts');
  const load = loadNote();
  const raisedTo = raiseFileLimit(process.pid);
  // Children inherit this process's limit (and get the same raise).
  const limit = fileLimit(process.pid);
  const perProcess = Math.min(
    limit === null ? Infinity : limit - SPARE_FILES,
    Number(process.env.BENCH_STORM_PROCESS_SOCKETS ?? Infinity),
  );
  const postgres = await startBenchPostgres();
  // Every child this process starts, so that all are ended however the run ends.
  const children: { kill(): void }[] = [];
  let inProcess: Awaited<ReturnType<typeof startIngestServer>> | null = null;
  // Interrupted (Ctrl-C, timeout): end the children and remove the private PostgreSQL too.
  const interrupted = (signal: NodeJS.Signals) => {
    process.stderr.write(`${signal}: stopping the clients, the server instances and PostgreSQL\n`);
    for (const child of children) {
      child.kill();
    }
    postgres.stop();
    process.exit(1);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    inProcess = await startIngestServer(postgres.url, 'warn');
    const { config, schoolId, groupId } = inProcess;
    const organisation: Organisation = { databaseUrl: postgres.url, schoolId, groupId };
    const maxConnections = Number(
      (await inProcess.server.db.query<{ max_connections: string }>('show max_connections'))[0]
        ?.max_connections ?? 100,
    );
    // Pools of 10 per instance, a connection per client process enrolling, and room for
    // PostgreSQL's reserved superuser slots and the benchmark's own.
    const maxInstances = Math.floor((maxConnections - 20) / (POOL_SIZE + 1));
    const setting = process.env.BENCH_STORM_INSTANCES ?? 'auto';
    const { plans, notRun } = plan(STORMS, perProcess, setting, maxInstances);
    const counts = [...new Set(plans.map((p) => p.instances))].sort((a, b) => a - b);
    const steadyBy = new Map<number, SteadyResult>();
    const rows: StormRow[] = [];
    let nextNumber = STEADY_DEVICES;
    let lastEnd = 0;

    const steadyPhase = async (instances: Instance[]): Promise<SteadyResult> => {
      const client = forkClient<ToClient, FromClient>(import.meta.url);
      children.push(client);
      client.send({
        type: 'steady',
        urls: instances.map((i) => `${i.url}/api/v1/reports`),
        concurrency: STEADY_CONCURRENCY * instances.length,
        ...organisation,
      });
      const { result } = await client.next('steady');
      await client.ended();
      return result;
    };

    const stormPhase = async (p: Plan, instances: Instance[]): Promise<void> => {
      process.stdout.write(
        `storm of ${String(p.size)} devices: ${String(p.instances)} server instance(s), ${String(p.clients)} client process(es)\n`,
      );
      const clients = Array.from({ length: p.clients }, () => {
        const client = forkClient<ToClient, FromClient>(import.meta.url);
        children.push(client);
        if (client.pid !== undefined) {
          raiseFileLimit(client.pid);
        }
        return client;
      });
      let first = 0;
      clients.forEach((client, k) => {
        const devices = Math.floor(p.size / p.clients) + (k < p.size % p.clients ? 1 : 0);
        client.send({
          type: 'prepare',
          urls: instances.map((i) => `${i.url}/api/v1/reports`),
          devices,
          first,
          number: nextNumber + first,
          ...organisation,
        });
        first += devices;
      });
      nextNumber += p.size;
      await Promise.all(clients.map((c) => c.next('ready')));
      // Let the servers' drain measurement from the last phase age out, as over a weekend.
      const rest = lastEnd + 6000 - performance.now();
      if (rest > 0) {
        await new Promise((resolve) => setTimeout(resolve, rest));
      }
      // The servers' memory at its highest: what a queue of held batches costs.
      const rss = instances.map((i) => processRss(i.pid));
      const sampler = setInterval(() => {
        instances.forEach((instance, n) => {
          const now = processRss(instance.pid);
          const before = rss[n];
          rss[n] = now === null ? (before ?? null) : Math.max(before ?? 0, now);
        });
      }, 100);
      const cpu0 = instances.map((i) => processCpuSeconds(i.pid));
      const pg0 = postgresCpuSeconds(postgres.postmasterPid);
      const overflows0 = listenOverflows();
      const at = Date.now() + 500;
      clients.forEach((client) => {
        client.send({ type: 'go', at });
      });
      const parts = await Promise.all(clients.map(async (c) => (await c.next('storm')).result));
      clearInterval(sampler);
      const cpu1 = instances.map((i) => processCpuSeconds(i.pid));
      const pg1 = postgresCpuSeconds(postgres.postmasterPid);
      const overflows1 = listenOverflows();
      lastEnd = performance.now();
      await Promise.all(clients.map((c) => c.ended()));
      const result = mergeStorm(parts);
      rows.push({
        ...result,
        ...p,
        steady: steadyBy.get(p.instances)?.reportsPerSecond ?? NaN,
        serverCpu: cpu0.map((c0, n) => {
          const c1 = cpu1[n];
          return c0 === null || c1 === null || c1 === undefined ? null : c1 - c0;
        }),
        pgCpu: pg0 === null || pg1 === null ? null : pg1 - pg0,
        listenOverflows:
          overflows0 === null || overflows1 === null ? null : overflows1 - overflows0,
        rssMb: rss.map((r) => (r === null ? null : r / 1048576)),
      });
      process.stdout.write(`${JSON.stringify({ ...result, instances: p.instances })}\n`);
    };

    for (const count of counts) {
      let instances: Instance[];
      const forked: ClientProcess<ToInstance, FromInstance>[] = [];
      if (count === 1 && inProcess !== null) {
        // One instance: the server in this process, as before.
        instances = [{ url: inProcess.server.url, pid: process.pid }];
      } else {
        // Several: the one in this process stops (its pool and timers would only get in the
        // way), and forked instances take over.
        if (inProcess !== null) {
          await inProcess.server.stop();
          inProcess = null;
        }
        // One at a time: each migrates (a no-op by now) and ensures the school at start-up.
        instances = [];
        for (let n = 0; n < count; n++) {
          const child = forkClient<ToInstance, FromInstance>(import.meta.url, 'instance');
          children.push(child);
          forked.push(child);
          if (child.pid === undefined) {
            throw new Error('could not fork a server instance');
          }
          raiseFileLimit(child.pid);
          child.send({ type: 'start', databaseUrl: postgres.url });
          const ready = await child.next('ready');
          instances.push({ url: ready.url, pid: child.pid });
        }
      }
      const capacity = await steadyPhase(instances);
      steadyBy.set(count, capacity);
      lastEnd = performance.now();
      process.stdout.write(
        `steady, ${String(count)} instance(s): ${capacity.reportsPerSecond.toFixed(0)} reports/s\n`,
      );
      for (const p of plans.filter((q) => q.instances === count)) {
        await stormPhase(p, instances);
      }
      for (const child of forked) {
        child.send({ type: 'stop' });
      }
      await Promise.all(forked.map((c) => c.ended()));
    }
    if (inProcess !== null) {
      await inProcess.server.stop();
      inProcess = null;
    }
    const cores = os.cpus().length;
    const sum = (values: (number | null)[]) =>
      values.some((v) => v === null) ? 'n/a' : values.map((v) => (v ?? 0).toFixed(0)).join(' + ');
    const errorNote = (s: StormRow) => {
      const entries = Object.entries(s.errors);
      const total = entries.reduce((n, [, c]) => n + c, 0);
      const notes = [
        ...(total === 0
          ? []
          : [
              `${String(total)} errors: ${entries.map(([kind, c]) => `${String(c)} ${kind}`).join(', ')}`,
            ]),
        ...(s.listenOverflows === null || s.listenOverflows === 0
          ? []
          : [
              `${s.listenOverflows.toLocaleString('en-GB')} connections dropped from full accept queues (TcpExt ListenOverflows, the whole machine)`,
            ]),
        ...(s.gaveUp === 0
          ? []
          : [`${String(s.gaveUp)} devices gave up, not landed by ${String(GIVE_UP_SECONDS)} s`]),
      ];
      return notes.length === 0 ? '' : ` (${notes.join('; ')})`;
    };
    const why =
      setting === 'auto'
        ? `A storm whose sockets one process cannot hold runs against several server instances: a storm needs a socket per device in a server process and in a client process, the open-file limit here is ${limit === null ? 'unknown' : limit.toLocaleString('en-GB')} a process (less ${SPARE_FILES.toLocaleString('en-GB')} kept for PostgreSQL, files and the pipe) and ${raisedTo === '200,000' ? 'was raised for this run' : 'prlimit cannot raise it'}; a production server raises LimitNOFILE instead.`
        : `Every storm here ran against ${setting} server instances (BENCH_STORM_INSTANCES).`;
    const instancesNote = counts.some((c) => c > 1)
      ? ` ${why} Each instance is a forked process calling \`startServer\` with the same default admission on the same PostgreSQL; devices are assigned to instances round-robin (as a DNS round-robin or a load balancer would); a storm's devices are split over client processes of at most ${perProcess.toLocaleString('en-GB')} devices each, every client prepares its devices' signed batches and says ready, all start at one wall-clock moment, and their results are merged. Such a storm's drain is compared with a steady capacity measured in the same run against as many instances (${String(STEADY_CONCURRENCY)} batches in flight per instance); a forked instance's CPU and memory come from /proc (utime + stime; VmRSS sampled every 100 ms).`
      : '';
    const lines = [
      `## Monday-morning storms (\`bench/storm.bench.ts\`, ${new Date().toISOString().slice(0, 10)})`,
      '',
      `Machine: ${String(cores)} × ${os.cpus()[0]?.model ?? 'cpu'}, ${process.platform}, Node ${process.version}; ${load}; ${sourceState()}; ${postgres.description} (fsync on). Open-file limit raised to ${raisedTo}.`,
      `Server: \`startServer\` with the default admission (adaptive limit of 10–${String(config.ingestConcurrency)} batches in flight, starting at 16, queue of ${String(config.ingestQueueLength)} waiting ≤ ${String(config.ingestQueueWaitMs / 1000)} s, 16 requests read per turn of the event loop, a request the queue cannot hold refused before its body is read), pool of ${String(POOL_SIZE)}, in the benchmark process${counts.some((c) => c > 1) ? ' for a storm one process can hold' : ''}; clients in forked children (one for each steady phase, one or more for each storm); PostgreSQL in its own processes; all on the same ${String(cores)} cores.${instancesNote}`,
      `Batches: ${String(REPORTS_PER_BATCH)} reports × ${String(CHECKS.length)} check results, signed (RFC 9421, P-256), one per device. Devices enrolled beforehand with SQL. Steady capacity: ${String(STEADY_DEVICES)} devices, ${String(STEADY_CONCURRENCY)} batches in flight for ${String(STEADY_SECONDS)} s after ${String(WARMUP_SECONDS)} s warm-up. A storm: every device posts at the same moment its batch signed beforehand (the devices' own CPU is not the server's; retries are signed afresh); on a 429 it waits as the agent does (its RetrySchedule with the server's Retry-After, real time).`,
      '',
      ...counts.map((count) => {
        const capacity = steadyBy.get(count);
        return capacity === undefined
          ? ''
          : `Steady capacity, same ${count === 1 ? 'server' : `${String(count)} server instances`} and database: **${capacity.reportsPerSecond.toFixed(0)} reports/s** (p50 / p99 ${capacity.latencyP50.toFixed(0)} / ${capacity.latencyP99.toFixed(0)} ms, ${String(capacity.refused)} refused).`;
      }),
      '',
      '| storm | server instances × client processes | time for all to land | drain | **drain / steady** (goal ≥ 0.8; steady of as many instances) | 429 answers (devices refused at first) | longest Retry-After given | latest time promised vs storm landed | device landed p50 / p99 | most tries by one device | CPU server / PostgreSQL | server RSS at most |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...rows.map(
        (s) =>
          `| ${s.devices.toLocaleString('en-GB')} devices | ${String(s.instances)} × ${String(s.clients)} | ${s.landSeconds.toFixed(1)} s | ${s.reportsPerSecond.toFixed(0)} reports/s | **${(s.reportsPerSecond / s.steady).toFixed(2)}**${s.gaveUp > 0 ? ` (of the ${(s.devices - s.gaveUp).toLocaleString('en-GB')} that landed)` : ''} | ${s.refusals.toLocaleString('en-GB')} (${s.devicesRefused.toLocaleString('en-GB')}) | ${s.longestRetryAfterSeconds.toFixed(0)} s | ${s.latestPromiseSeconds.toFixed(1)} s vs ${s.landSeconds.toFixed(1)} s | ${s.landP50.toFixed(1)} / ${s.landP99.toFixed(1)} s | ${String(s.maxTries)} | ${sum(s.serverCpu)} / ${s.pgCpu === null ? 'n/a' : s.pgCpu.toFixed(0)} s${errorNote(s)} | ${s.rssMb.map((r) => (r === null ? 'n/a' : r.toFixed(0))).join(' / ')} MB |`,
      ),
      ...notRun.map(
        ({ size, why }) =>
          `| ${size.toLocaleString('en-GB')} devices | not run: ${why} | | | | | | | | | | |`,
      ),
    ];
    const markdown = lines.filter((line, i) => line !== '' || lines[i - 1] !== '').join('\n');
    process.stdout.write(markdown + '\n');
    await recordResults('storm', markdown);
  } finally {
    if (inProcess !== null) {
      await inProcess.server.stop().catch(() => undefined);
    }
    for (const child of children) {
      child.kill();
    }
    postgres.stop();
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
}
