// Benchmark: report ingest. Simulated devices, enrolled through the real /api/v1/enroll with real
// P-256 keys, post signed batches over loopback to the real server on PostgreSQL. Next to it, in
// the same run, the raw INSERT ceiling of the same database: the same rows written straight
// with `pg` multi-row inserts at the same concurrency. Goals: ≥ 5,000 reports/s and ≥ 0.3 of the
// ceiling. Also the share of the server's CPU spent on signature checks. Writes bench/RESULTS.md.
//
// Two processes so the load does not starve the server: this one runs the server (and so its
// process.cpuUsage() is the server's CPU), a forked child runs the clients. PostgreSQL's own
// processes share the same cores.
//
// BENCH_INGEST_SECONDS (default 20) sets the measured time of each phase, BENCH_INGEST_DEVICES
// (default 200) and BENCH_CONCURRENCY (default 32) the load.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import pg from 'pg';
import {
  SCHEMA_VERSION,
  type CheckId,
  type CheckResult,
  type CheckStatus,
  type ComplianceReport,
  type DeviceFacts,
} from '../shared/index.ts';
import { generateDeviceKeyPair } from '../agent/core/http-signature/sign.ts';
import {
  benchEnrolmentToken,
  eachDeviceInTurn,
  enrolDevice,
  fewAtATime,
  forkClient,
  isClientProcess,
  postSigned,
  sendToServer,
  serveAsClient,
  signatureCheckCost,
  startIngestServer,
} from './ingest-harness.ts';
import { median, percentile, recordResults } from './results-file.ts';
import { simulatedFacts } from './simulated-facts.ts';

const SECONDS = Number(process.env.BENCH_INGEST_SECONDS ?? 20);
const WARMUP_SECONDS = 3;
const DEVICES = Number(process.env.BENCH_INGEST_DEVICES ?? 200);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const REPORTS_PER_BATCH = 10;
const CHECKS: readonly CheckId[] = [
  'disk-encryption',
  'antivirus',
  'os-updates',
  'firewall',
  'screen-lock',
];

// ---------------------------------------------------------------------------------------------
// Report generation (both processes): realistic bodies, statuses that mostly stay put.

/** One simulated device: facts, current check statuses and a clock that only moves forward. */
interface SimDevice {
  facts: DeviceFacts;
  statuses: CheckStatus[];
  clock: number;
}

function simDevice(n: number): SimDevice {
  return {
    facts: simulatedFacts(n),
    statuses: CHECKS.map(() => 'pass'),
    clock: Date.now() - 3_600_000,
  };
}

const STATUS_MIX: readonly CheckStatus[] = ['pass', 'pass', 'pass', 'pass', 'fail', 'warn'];

function checkResult(checkId: CheckId, status: CheckStatus, at: string): CheckResult {
  return {
    checkId,
    status,
    summary: `${checkId}: ${status === 'pass' ? 'compliant' : 'needs attention'}`,
    ...(status === 'pass' ? {} : { remediation: `Ask ICT to look at ${checkId} on this laptop.` }),
    evidence: {
      source: 'bench',
      probe: `${checkId}-probe`,
      values: { enabled: status === 'pass', version: '4.18.24090.11', lastUpdate: at },
    },
    measuredAt: at,
    durationMs: 12.5,
  };
}

/** The device's next report: one status in twenty changes. */
function nextReport(device: SimDevice): ComplianceReport {
  device.clock += 60_000;
  const at = new Date(device.clock).toISOString();
  device.statuses = device.statuses.map((s) =>
    Math.random() < 0.05 ? (STATUS_MIX[Math.floor(Math.random() * STATUS_MIX.length)] ?? s) : s,
  );
  const results = CHECKS.map((id, i) => checkResult(id, device.statuses[i] ?? 'pass', at));
  const overall = (['fail', 'unknown', 'warn'] as const).find((s) => device.statuses.includes(s));
  return {
    schemaVersion: SCHEMA_VERSION,
    id: randomUUID(),
    createdAt: at,
    policy: { name: 'Pupil laptops', version: 1 },
    device: device.facts,
    overall: overall ?? 'pass',
    results,
  };
}

// ---------------------------------------------------------------------------------------------
// The client process: enrols the devices, then posts signed batches with bounded concurrency.

interface StartMessage {
  url: string;
  token: string;
}
interface ClientResult {
  type: 'done';
  batches: number;
  reports: number;
  refused: Record<string, number>;
  seconds: number;
  latenciesMs: number[];
  clientCpuSeconds: number;
}
type FromClient = { type: 'enrolled' } | { type: 'measuring' } | ClientResult;

async function runClients(start: StartMessage): Promise<void> {
  const devices = Array.from({ length: DEVICES }, (_, n) => {
    const keys = generateDeviceKeyPair();
    return { sim: simDevice(n), keys, privateKey: keys.privateKey, id: '' };
  });
  // Enrol through the real endpoint, a few at a time.
  await fewAtATime(devices, 8, async (d) => {
    d.id = await enrolDevice(start.url, start.token, d.keys.publicKeyPem, d.sim.facts);
  });
  await sendToServer({ type: 'enrolled' } satisfies FromClient);

  const url = `${start.url}/api/v1/reports`;
  const post = (device: (typeof devices)[number]) =>
    postSigned(
      url,
      JSON.stringify({
        schemaVersion: SCHEMA_VERSION,
        reports: Array.from({ length: REPORTS_PER_BATCH }, () => nextReport(device.sim)),
        events: [],
      }),
      device,
    );
  const run = async (seconds: number) => {
    const latenciesMs: number[] = [];
    const refused: Record<string, number> = {};
    let batches = 0;
    const cpu0 = process.cpuUsage();
    const elapsed = await eachDeviceInTurn(devices, CONCURRENCY, seconds, async (device) => {
      const { status, ms } = await post(device);
      if (status === 200) {
        batches++;
        latenciesMs.push(ms);
      } else {
        refused[String(status)] = (refused[String(status)] ?? 0) + 1;
      }
    });
    const cpu = process.cpuUsage(cpu0);
    return {
      batches,
      reports: batches * REPORTS_PER_BATCH,
      refused,
      seconds: elapsed,
      latenciesMs,
      clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
    };
  };
  await run(WARMUP_SECONDS);
  await sendToServer({ type: 'measuring' } satisfies FromClient);
  await sendToServer({ type: 'done', ...(await run(SECONDS)) } satisfies FromClient);
}

if (isClientProcess()) {
  serveAsClient(runClients, 'disconnect');
} else {
  await main();
}

// ---------------------------------------------------------------------------------------------
// The server process.

async function main(): Promise<void> {
  const {
    loadNote,
    postgresCpuSeconds,
    resetStatementStats,
    sourceState,
    startBenchPostgres,
    topStatements,
  } = await import('./postgres.ts');
  const load = loadNote();

  const postgres = await startBenchPostgres();
  try {
    // Request logs off: at info, pino writes a line per request (a real, separate cost).
    const target = await startIngestServer(postgres.url, 'warn');
    const { server } = target;
    const token = await benchEnrolmentToken(target, DEVICES);

    // Ingest through the server, clients in a child process.
    const client = forkClient<StartMessage, FromClient>(import.meta.url);
    client.send({ url: server.url, token });
    await client.next('enrolled');
    process.stdout.write(`enrolled ${String(DEVICES)} devices; warming up\n`);
    await client.next('measuring');
    const cpu0 = process.cpuUsage();
    const pg0 = postgresCpuSeconds(postgres.postmasterPid);
    const statsReset = resetStatementStats(postgres.url);
    const result = await client.next('done');
    const cpu = process.cpuUsage(cpu0);
    const pg1 = postgresCpuSeconds(postgres.postmasterPid);
    const serverCpu = (cpu.user + cpu.system) / 1e6;
    const pgCpu = pg0 === null || pg1 === null ? null : pg1 - pg0;
    await client.ended();
    // Where PostgreSQL's time went during the measured ingest (pg_stat_statements).
    const statements = (await statsReset) ? await topStatements(postgres.url, 50) : [];
    const ingestRate = result.reports / result.seconds;
    process.stdout.write(`ingest: ${ingestRate.toFixed(0)} reports/s\n`);

    // The raw INSERT ceiling of the same database, same devices, same concurrency and pool size.
    const deviceIds = (
      await server.db.query<{ id: string }>('select id from devices order by id')
    ).map((r) => r.id);
    await server.stop();
    const ceiling = await insertCeiling(postgres.url, deviceIds, postgresCpuSeconds, postgres);
    process.stdout.write(`ceiling: ${ceiling.reportsPerSecond.toFixed(0)} reports/s\n`);

    // Signature checks: the same number of verifications as the server did, in this process.
    const crypto = signatureCost(result.batches);

    const ratio = ingestRate / ceiling.reportsPerSecond;
    const requests = result.batches;
    const verifyShare = crypto.verifySeconds / serverCpu;
    const cryptoShare = crypto.allSeconds / serverCpu;
    const refused = Object.entries(result.refused)
      .map(([status, n]) => `${String(n)} × ${status}`)
      .join(', ');
    const cores = os.cpus().length;
    const lines = [
      `## Ingest (\`bench/ingest.bench.ts\`, ${new Date().toISOString().slice(0, 10)})`,
      '',
      `Machine: ${String(cores)} × ${os.cpus()[0]?.model ?? 'cpu'}, ${process.platform}, Node ${process.version}; ${load}; ${sourceState()}; ${postgres.description} (fsync on).`,
      `Load: ${String(DEVICES)} devices enrolled through \`/api/v1/enroll\`, ${String(CONCURRENCY)} in flight, batches of ${String(REPORTS_PER_BATCH)} reports × ${String(CHECKS.length)} check results (${(crypto.bodyBytes / 1024).toFixed(1)} KiB), signed (RFC 9421, P-256), over loopback HTTP for ${String(SECONDS)} s after ${String(WARMUP_SECONDS)} s of warm-up. Server (\`startServer\`, pool of 10, log level warn) in the benchmark process; clients in a forked child process; PostgreSQL in its own processes: all on the same ${String(cores)} cores.`,
      '',
      '| measure | value |',
      '| --- | --- |',
      `| ingest through the server | ${ingestRate.toFixed(0)} reports/s (${(requests / result.seconds).toFixed(0)} batches/s) |`,
      `| request latency p50 / p99 | ${median(result.latenciesMs).toFixed(1)} / ${percentile(result.latenciesMs, 99).toFixed(1)} ms |`,
      `| refused batches | ${refused === '' ? 'none' : refused} |`,
      `| raw INSERT ceiling, same database (${ceiling.what}) | ${ceiling.reportsPerSecond.toFixed(0)} reports/s |`,
      `| **ingest / ceiling** (goal ≥ 0.3) | **${ratio.toFixed(2)}** |`,
      `| **ingest reports/s** (goal ≥ 5,000) | **${ingestRate.toFixed(0)}** |`,
      `| CPU during the measured ingest: server process / PostgreSQL / clients | ${serverCpu.toFixed(1)} / ${pgCpu === null ? 'n/a' : pgCpu.toFixed(1)} / ${result.clientCpuSeconds.toFixed(1)} s of ${(result.seconds * cores).toFixed(0)} core-seconds |`,
      `| server CPU per batch | ${((serverCpu / requests) * 1000).toFixed(2)} ms |`,
      `| one P-256 verify (in-process, after the run) | ${((crypto.verifySeconds / requests) * 1e6).toFixed(0)} µs |`,
      `| **share of server CPU verifying signatures** | **${(verifyShare * 100).toFixed(1)} %** (${(cryptoShare * 100).toFixed(1)} % with the key import and body digest) |`,
      `| PostgreSQL CPU during the ceiling run | ${ceiling.pgCpu === null ? 'n/a' : `${ceiling.pgCpu.toFixed(1)} s`} |`,
    ];
    const statementMs = statements.reduce((sum, st) => sum + st.totalMs, 0);
    if (statements.length > 0) {
      lines.push(
        '',
        `Where PostgreSQL's execution time went during the measured ingest (pg_stat_statements, ${(statementMs / 1000).toFixed(1)} s in all; top statements):`,
        '',
        '| statement | calls per batch | mean | share |',
        '| --- | --- | --- | --- |',
        ...statements
          .slice(0, 8)
          .map(
            (st) =>
              `| \`${st.query.slice(0, 110).replaceAll('|', '\\|')}${st.query.length > 110 ? '…' : ''}\` | ${(st.calls / requests).toFixed(1)} | ${st.meanMs.toFixed(2)} ms | ${((st.totalMs / statementMs) * 100).toFixed(0)} % |`,
          ),
      );
    }
    const markdown = lines.join('\n');
    process.stdout.write(markdown + '\n');
    await recordResults('ingest', markdown);
  } finally {
    postgres.stop();
  }
}

/**
 * Writes the rows an ingest of the same batches needs, straight through `pg`: per batch one
 * transaction with a multi-row insert into reports (every report raw) and a multi-row upsert of
 * the latest check_states. No signature, no JSON parsing, no per-report state machine.
 */
async function insertCeiling(
  url: string,
  deviceIds: string[],
  cpuSeconds: (pid: number | null) => number | null,
  postgres: { postmasterPid: number | null },
): Promise<{ reportsPerSecond: number; what: string; pgCpu: number | null }> {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  const devices = deviceIds.map((id, n) => ({ id, sim: simDevice(n) }));
  const writeBatch = async (device: (typeof devices)[number]) => {
    const reports = Array.from({ length: REPORTS_PER_BATCH }, () => nextReport(device.sim));
    const now = new Date();
    const rows: unknown[] = [];
    for (const r of reports) {
      rows.push(r.id, device.id, r.createdAt, now, JSON.stringify(r));
    }
    const latest = reports.at(-1)?.results ?? [];
    const states: unknown[] = [];
    for (const c of latest) {
      states.push(
        device.id,
        c.checkId,
        c.status,
        c.summary,
        c.remediation ?? null,
        JSON.stringify(c.evidence),
        c.measuredAt,
        c.measuredAt,
      );
    }
    const values = (count: number, width: number) =>
      Array.from(
        { length: count },
        (_, i) =>
          `(${Array.from({ length: width }, (_w, j) => `$${String(i * width + j + 1)}`).join(', ')})`,
      ).join(', ');
    const client = await pool.connect();
    try {
      await client.query('begin');
      await client.query(
        `insert into reports (id, device_id, created_at, received_at, body) values ${values(reports.length, 5)}`,
        rows,
      );
      await client.query(
        `insert into check_states (device_id, check_id, status, summary, remediation, evidence, measured_at, changed_at)
         values ${values(latest.length, 8)}
         on conflict (device_id, check_id) do update set status = excluded.status, summary = excluded.summary,
           remediation = excluded.remediation, evidence = excluded.evidence, measured_at = excluded.measured_at`,
        states,
      );
      await client.query('commit');
    } finally {
      client.release();
    }
  };
  const run = async (seconds: number) => {
    let batches = 0;
    const elapsed = await eachDeviceInTurn(devices, CONCURRENCY, seconds, async (device) => {
      await writeBatch(device);
      batches++;
    });
    return (batches * REPORTS_PER_BATCH) / elapsed;
  };
  try {
    await run(WARMUP_SECONDS);
    const pg0 = cpuSeconds(postgres.postmasterPid);
    const reportsPerSecond = await run(SECONDS);
    const pg1 = cpuSeconds(postgres.postmasterPid);
    return {
      reportsPerSecond,
      what: 'reports (every one raw) + check_states upsert, one transaction per batch',
      pgCpu: pg0 === null || pg1 === null ? null : pg1 - pg0,
    };
  } finally {
    await pool.end();
  }
}

/**
 * CPU seconds this process needs for `requests` signature checks as the server does them, on a
 * batch like the clients': the P-256 verify alone, and with the per-request key import (SPKI
 * DER) and body digest; and that batch's size.
 */
function signatureCost(requests: number): {
  verifySeconds: number;
  allSeconds: number;
  bodyBytes: number;
} {
  const device = simDevice(0);
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: SCHEMA_VERSION,
      reports: Array.from({ length: REPORTS_PER_BATCH }, () => nextReport(device)),
      events: [],
    }),
  );
  return { ...signatureCheckCost(body, requests), bodyBytes: body.length };
}
