// Benchmark: Monday-morning storms. Every device of a trust returns at once with one batch
// waiting in its outbox; how fast does the server on PostgreSQL land them all, and how long
// does it tell devices to wait? Next to it, in the same run, the steady ingest capacity of the
// same server: the goal is a drain rate ≥ 0.8 × that capacity, and no Retry-After longer than
// the drain needed. Writes bench/RESULTS.md.
//
// Devices are enrolled beforehand with SQL (their real P-256 public keys, as /enroll stores
// them); each then signs and posts one batch over loopback HTTP, and on a 429 waits as the agent
// does: the agent's own RetrySchedule with the server's Retry-After (time is not compressed).
// Server in this process (startServer, default admission settings), clients in a forked child.
//
// BENCH_STORMS (default "1000,5000,15000,30000") sets the storm sizes; a storm needs a socket per
// device in both the server and the client process, so one bigger than the open-file limit
// allows is reported as not run, BENCH_STEADY_SECONDS (default 15)
// the measured steady phase.
import { execFileSync } from 'node:child_process';
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
  eachDeviceInTurn,
  enrolPublicKey,
  forkClient,
  isClientProcess,
  postPrepared,
  postSigned,
  prepareSigned,
  type PreparedRequest,
  sendToServer,
  serveAsClient,
  startIngestServer,
} from './ingest-harness.ts';
import { median, percentile, recordResults } from './results-file.ts';
import { simulatedFacts } from './simulated-facts.ts';

const STORMS = (process.env.BENCH_STORMS ?? '1000,5000,15000,30000').split(',').map(Number);
/** Descriptors a process needs besides one socket per device (PostgreSQL, files, the pipe). */
const SPARE_FILES = 1000;
const STEADY_SECONDS = Number(process.env.BENCH_STEADY_SECONDS ?? 15);
const STEADY_DEVICES = 200;
const STEADY_CONCURRENCY = 32;
const WARMUP_SECONDS = 3;
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

type FromClient =
  | { type: 'steady'; result: SteadyResult }
  | { type: 'storm-start'; size: number }
  | { type: 'storm'; result: StormResult };

interface StartMessage {
  /** The storm sizes this machine's open-file limit allows. */
  storms: number[];
  url: string;
  databaseUrl: string;
  schoolId: string;
  groupId: string;
}

interface SteadyResult {
  reportsPerSecond: number;
  refused: number;
  latencyP50: number;
  latencyP99: number;
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
  errors: number;
}

async function enrol(message: StartMessage, devices: Device[]): Promise<void> {
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

async function steady(url: string, devices: Device[]): Promise<SteadyResult> {
  const run = async (seconds: number) => {
    const latencies: number[] = [];
    let refused = 0;
    let batches = 0;
    const elapsed = await eachDeviceInTurn(devices, STEADY_CONCURRENCY, seconds, async (device) => {
      const t = performance.now();
      const { status } = await post(url, device);
      if (status === 200) {
        batches++;
        latencies.push(performance.now() - t);
      } else {
        refused++;
      }
    });
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

async function storm(url: string, devices: Device[]): Promise<StormResult> {
  const landed: number[] = [];
  let refusals = 0;
  let devicesRefused = 0;
  let longest = 0;
  let latestPromise = 0;
  let maxTries = 0;
  let errors = 0;
  // Each device's batch is in its outbox, signed, before the storm: the devices' own work of
  // building and signing is theirs, not the server's, and on this machine it would take the
  // cores the server needs (thousands of P-256 signatures in the first second). Retries sign
  // afresh, as the agent does.
  const firstTries = devices.map((device) => prepareSigned(url, batchBody(device), device));
  const t0 = performance.now();
  // Progress on stderr: a storm that stalls (devices backing off after connection errors)
  // shows why while it runs.
  const progress = setInterval(() => {
    process.stderr.write(
      `  ${((performance.now() - t0) / 1000).toFixed(0)} s: ${String(landed.length)} landed, ${String(refusals)} × 429, ${String(errors)} errors, longest Retry-After ${longest.toFixed(0)} s\n`,
    );
  }, 5000);
  await Promise.all(
    devices.map(async (device, n) => {
      // The agent's own schedule: what it does with the server's Retry-After.
      const schedule = new RetrySchedule(DEFAULT_BACKOFF, Math.random, () => performance.now());
      for (let tries = 1; ; tries++) {
        let answer: { status: number; retryAfter: string | null };
        try {
          answer = await post(url, device, tries === 1 ? firstTries[n] : undefined);
        } catch (error) {
          if (errors === 0) {
            process.stderr.write(`  first connection error: ${String(error)}\n`);
          }
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
        } else {
          errors++;
        }
        const ms = parseRetryAfter(answer.retryAfter, Date.now());
        if (ms !== undefined) {
          longest = Math.max(longest, ms / 1000);
          latestPromise = Math.max(latestPromise, (performance.now() - t0 + ms) / 1000);
        }
        const at = schedule.recordFailure(ms);
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, at - performance.now())));
      }
    }),
  );
  clearInterval(progress);
  const landSeconds = (performance.now() - t0) / 1000;
  return {
    devices: devices.length,
    landSeconds,
    reportsPerSecond: (devices.length * REPORTS_PER_BATCH) / landSeconds,
    refusals,
    devicesRefused,
    longestRetryAfterSeconds: longest,
    latestPromiseSeconds: latestPromise,
    landP50: median(landed),
    landP99: percentile(landed, 99),
    maxTries,
    errors,
  };
}

async function runClients(message: StartMessage): Promise<void> {
  const url = `${message.url}/api/v1/reports`;
  const steadyDevices = Array.from({ length: STEADY_DEVICES }, (_, n) => newDevice(n));
  await enrol(message, steadyDevices);
  const capacity = await steady(url, steadyDevices);
  await sendToServer({ type: 'steady', result: capacity } satisfies FromClient);
  let next = STEADY_DEVICES;
  for (const size of message.storms) {
    const devices = Array.from({ length: size }, () => newDevice(next++));
    await enrol(message, devices);
    // Let the server's drain measurement from the last phase age out, as over a weekend.
    await new Promise((resolve) => setTimeout(resolve, 6000));
    await sendToServer({ type: 'storm-start', size } satisfies FromClient);
    const result = await storm(url, devices);
    await sendToServer({ type: 'storm', result } satisfies FromClient);
  }
}

if (isClientProcess()) {
  serveAsClient(runClients, 'disconnect');
} else {
  await main();
}

// ---------------------------------------------------------------------------------------------
// The server process.

/** Raises this process's open-file limit (root): 30,000 devices hold 30,000 sockets at once. */
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

async function main(): Promise<void> {
  const { loadNote, postgresCpuSeconds, sourceState, startBenchPostgres } =
    await import('./postgres.ts');
  const load = loadNote();
  const raisedTo = raiseFileLimit(process.pid);
  const postgres = await startBenchPostgres();
  try {
    const { server, config, schoolId, groupId } = await startIngestServer(postgres.url, 'warn');
    const client = forkClient<StartMessage, FromClient>(import.meta.url);
    if (client.pid !== undefined) {
      raiseFileLimit(client.pid);
    }
    const limits = [process.pid, client.pid ?? -1].map(fileLimit);
    const allowed = Math.min(...limits.map((l) => (l === null ? Infinity : l))) - SPARE_FILES;
    const runnable = STORMS.filter((size) => size <= allowed);
    const notRun = STORMS.filter((size) => size > allowed);
    client.send({
      url: server.url,
      databaseUrl: postgres.url,
      schoolId,
      groupId,
      storms: runnable,
    });
    const capacity = (await client.next('steady')).result;
    process.stdout.write(`steady: ${capacity.reportsPerSecond.toFixed(0)} reports/s\n`);
    const storms: (StormResult & { pgCpu: number | null; serverCpu: number; rssMb: number })[] = [];
    for (let left = runnable.length; left > 0; left--) {
      const { size } = await client.next('storm-start');
      process.stdout.write(`storm of ${String(size)} devices\n`);
      // The server's memory at its highest: what a queue of held batches costs.
      let rss = process.memoryUsage.rss();
      const sampler = setInterval(() => {
        rss = Math.max(rss, process.memoryUsage.rss());
      }, 100);
      const cpu0 = process.cpuUsage();
      const pg0 = postgresCpuSeconds(postgres.postmasterPid);
      const { result } = await client.next('storm');
      clearInterval(sampler);
      const cpu = process.cpuUsage(cpu0);
      const pg1 = postgresCpuSeconds(postgres.postmasterPid);
      storms.push({
        ...result,
        serverCpu: (cpu.user + cpu.system) / 1e6,
        pgCpu: pg0 === null || pg1 === null ? null : pg1 - pg0,
        rssMb: rss / 1048576,
      });
      process.stdout.write(`${JSON.stringify(result)}\n`);
    }
    await client.ended();
    await server.stop();
    const cores = os.cpus().length;
    const lines = [
      `## Monday-morning storms (\`bench/storm.bench.ts\`, ${new Date().toISOString().slice(0, 10)})`,
      '',
      `Machine: ${String(cores)} × ${os.cpus()[0]?.model ?? 'cpu'}, ${process.platform}, Node ${process.version}; ${load}; ${sourceState()}; ${postgres.description} (fsync on). Open-file limit raised to ${raisedTo}.`,
      `Server: \`startServer\` with the default admission (adaptive limit of 10–${String(config.ingestConcurrency)} batches in flight, starting at 16, queue of ${String(config.ingestQueueLength)} waiting ≤ ${String(config.ingestQueueWaitMs / 1000)} s, 16 requests read per turn of the event loop, a request the queue cannot hold refused before its body is read), pool of 10, in the benchmark process; clients in a forked child; PostgreSQL in its own processes; all on the same ${String(cores)} cores.`,
      `Batches: ${String(REPORTS_PER_BATCH)} reports × ${String(CHECKS.length)} check results, signed (RFC 9421, P-256), one per device. Devices enrolled beforehand with SQL. Steady capacity: ${String(STEADY_DEVICES)} devices, ${String(STEADY_CONCURRENCY)} batches in flight for ${String(STEADY_SECONDS)} s after ${String(WARMUP_SECONDS)} s warm-up. A storm: every device posts at the same moment its batch signed beforehand (the devices' own CPU is not the server's; retries are signed afresh); on a 429 it waits as the agent does (its RetrySchedule with the server's Retry-After, real time).`,
      '',
      `Steady capacity, same server and database: **${capacity.reportsPerSecond.toFixed(0)} reports/s** (p50 / p99 ${capacity.latencyP50.toFixed(0)} / ${capacity.latencyP99.toFixed(0)} ms, ${String(capacity.refused)} refused).`,
      '',
      '| storm | time for all to land | drain | **drain / steady** (goal ≥ 0.8) | 429 answers (devices refused at first) | longest Retry-After given | latest time promised vs storm landed | device landed p50 / p99 | most tries by one device | CPU server / PostgreSQL | server RSS at most |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...storms.map(
        (s) =>
          `| ${s.devices.toLocaleString('en-GB')} devices | ${s.landSeconds.toFixed(1)} s | ${s.reportsPerSecond.toFixed(0)} reports/s | **${(s.reportsPerSecond / capacity.reportsPerSecond).toFixed(2)}** | ${s.refusals.toLocaleString('en-GB')} (${s.devicesRefused.toLocaleString('en-GB')}) | ${s.longestRetryAfterSeconds.toFixed(0)} s | ${s.latestPromiseSeconds.toFixed(1)} s vs ${s.landSeconds.toFixed(1)} s | ${s.landP50.toFixed(1)} / ${s.landP99.toFixed(1)} s | ${String(s.maxTries)} | ${s.serverCpu.toFixed(0)} / ${s.pgCpu === null ? 'n/a' : s.pgCpu.toFixed(0)} s${s.errors > 0 ? ` (${String(s.errors)} errors)` : ''} | ${s.rssMb.toFixed(0)} MB |`,
      ),
      ...notRun.map(
        (size) =>
          `| ${size.toLocaleString('en-GB')} devices | not run: a socket per device in the server and in the client process, and the open-file limit here is ${limits.map((l) => (l === null ? 'unknown' : l.toLocaleString('en-GB'))).join(' / ')} (server / client) | | | | | | | | | |`,
      ),
    ];
    const markdown = lines.join('\n');
    process.stdout.write(markdown + '\n');
    await recordResults('storm', markdown);
  } finally {
    postgres.stop();
  }
}
