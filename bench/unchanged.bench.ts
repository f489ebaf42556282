// Benchmark: what an unchanged report costs (issue 18, "Unchanged reports cost almost nothing").
// Simulated devices, enrolled through the real /api/v1/enroll with real P-256 keys, each post one
// report per signed request (as a device does every 15 minutes) to the real server on PostgreSQL,
// in phases of one run:
//   full       an unchanged report sent in full (today's path for every report; old agents);
//   heartbeat  an empty signed batch, what the agent sends after a heartbeat interval with no
//              accepted batch (an unchanged report stands in for one: see service.ts);
//   delta      the same unchanged report as a delta from the digest the server holds (no results);
//   changed    a delta carrying one changed result (a status flip: a history row).
// Heartbeat and delta alternate for BENCH_UNCHANGED_ROUNDS rounds (default 3), so that the
// difference between them, what an unchanged report costs beyond the heartbeat it replaces, is
// measured under the same load and drift.
// Then, on the same database at the same concurrency, the raw INSERT ceiling: each report's full
// body inserted raw into `reports`, one statement each, and the floor of any report: one UPDATE of
// the device's row. Server CPU is this process's (the clients run in a forked child); PostgreSQL's
// is its processes' from /proc. One P-256 verify (with the key import and body digest the server
// does) is timed in-process after the run and split out of the server's CPU. Writes
// bench/RESULTS.md (section `unchanged`).
//
// BENCH_UNCHANGED_SECONDS (default 15) sets each phase's measured time (heartbeat and delta: per
// round), BENCH_UNCHANGED_DEVICES
// (default 200) and BENCH_UNCHANGED_CONCURRENCY (default 16) the load.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import pg from 'pg';
import {
  REPORT_DIGEST_HEADER,
  SCHEMA_VERSION,
  type CheckId,
  type CheckResult,
  type CheckStatus,
  type ComplianceReport,
  type DeviceFacts,
  type ReportBatch,
} from '../shared/index.ts';
import { generateDeviceKeyPair } from '../agent/core/http-signature/sign.ts';
import { deltaFrom, reportDigest } from '../agent/core/report-delta.ts';
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
  type ClientProcess,
} from './ingest-harness.ts';
import { recordResults } from './results-file.ts';
import { simulatedFacts } from './simulated-facts.ts';

const SECONDS = Number(process.env.BENCH_UNCHANGED_SECONDS ?? 15);
const WARMUP_SECONDS = 3;
const DEVICES = Number(process.env.BENCH_UNCHANGED_DEVICES ?? 200);
const CONCURRENCY = Number(process.env.BENCH_UNCHANGED_CONCURRENCY ?? 16);
const CHECKS: readonly CheckId[] = [
  'disk-encryption',
  'antivirus',
  'os-updates',
  'firewall',
  'screen-lock',
  'agent-health',
];
const ROUNDS = Number(process.env.BENCH_UNCHANGED_ROUNDS ?? 3);
const PHASES = ['full', 'heartbeat', 'delta', 'changed'] as const;
type Phase = (typeof PHASES)[number];
/** The order phases run in: heartbeat and delta alternate, each round starting with the other. */
const SCHEDULE: readonly Phase[] = [
  'full',
  ...Array.from({ length: ROUNDS }, (_, round): Phase[] =>
    round % 2 === 0 ? ['heartbeat', 'delta'] : ['delta', 'heartbeat'],
  ).flat(),
  'changed',
];
const LABELS: Record<Phase, string> = {
  full: 'unchanged report in full (today; old agents)',
  heartbeat: 'heartbeat (empty signed batch)',
  delta: 'unchanged report as a delta (no results)',
  changed: 'changed report as a delta (1 result, 1 history row)',
};

// ---------------------------------------------------------------------------------------------
// Reports (both processes): the ingest bench's result shape, every check of the agent.

interface SimDevice {
  facts: DeviceFacts;
  statuses: CheckStatus[];
  clock: number;
}

function simDevice(n: number): SimDevice {
  return {
    facts: simulatedFacts(n),
    statuses: CHECKS.map(() => 'pass'),
    clock: Date.now() - 86_400_000,
  };
}

function checkResult(checkId: CheckId, status: CheckStatus, at: string): CheckResult {
  return {
    checkId,
    status,
    summary: `${checkId}: ${status === 'pass' ? 'compliant' : 'needs attention'}`,
    ...(status === 'pass' ? {} : { remediation: `Ask ICT to look at ${checkId} on this laptop.` }),
    evidence: {
      source: 'bench',
      probe: `${checkId}-probe`,
      values: { enabled: status === 'pass', version: '4.18.24090.11', detail: 'x'.repeat(300) },
    },
    measuredAt: at,
    durationMs: 12.5,
  };
}

/** The device's next report, a minute on; `flip` turns the firewall's status over. */
function nextReport(device: SimDevice, flip: boolean): ComplianceReport {
  device.clock += 60_000;
  const at = new Date(device.clock).toISOString();
  if (flip) {
    const i = CHECKS.indexOf('firewall');
    device.statuses[i] = device.statuses[i] === 'pass' ? 'fail' : 'pass';
  }
  const results = CHECKS.map((id, i) => checkResult(id, device.statuses[i] ?? 'pass', at));
  return {
    schemaVersion: SCHEMA_VERSION,
    id: randomUUID(),
    createdAt: at,
    policy: { name: 'Pupil laptops', version: 1 },
    device: device.facts,
    overall: device.statuses.includes('fail') ? 'fail' : 'pass',
    results,
  };
}

// ---------------------------------------------------------------------------------------------
// The client process.

type ToClient = { type: 'start'; url: string; token: string } | { type: 'phase'; phase: Phase };
interface PhaseDone {
  type: 'done';
  phase: Phase;
  requests: number;
  refused: Record<string, number>;
  seconds: number;
  bodyBytes: number;
  sampleBody: string;
}
type FromClient = { type: 'ready' } | { type: 'measuring' } | PhaseDone;

async function runClients(start: ToClient): Promise<void> {
  if (start.type !== 'start') {
    throw new Error(`expected the start message, got '${start.type}'`);
  }
  const { url, token } = start;
  const devices = Array.from({ length: DEVICES }, (_, n) => {
    const keys = generateDeviceKeyPair();
    return {
      sim: simDevice(n),
      keys,
      privateKey: keys.privateKey,
      id: '',
      base: null as { report: ComplianceReport; digest: string } | null,
    };
  });
  await fewAtATime(devices, 8, async (d) => {
    d.id = await enrolDevice(url, token, d.keys.publicKeyPem, d.sim.facts);
  });

  /** One report in one signed request, in the phase's form; the base follows the answer. */
  const post = async (device: (typeof devices)[number], phase: Phase) => {
    if (phase === 'heartbeat') {
      const body = JSON.stringify({
        schemaVersion: SCHEMA_VERSION,
        reports: [],
        events: [],
      } satisfies ReportBatch);
      const response = await postSigned(`${url}/api/v1/reports`, body, device);
      return { status: response.status, body, wasDelta: false };
    }
    const report = nextReport(device.sim, phase === 'changed');
    const base = device.base;
    const delta =
      phase !== 'full' && base !== null ? deltaFrom(base.report, base.digest, report) : null;
    const batch: ReportBatch =
      delta === null
        ? { schemaVersion: SCHEMA_VERSION, reports: [report], events: [] }
        : { schemaVersion: SCHEMA_VERSION, reports: [], deltas: [delta], events: [] };
    const body = JSON.stringify(batch);
    const response = await postSigned(`${url}/api/v1/reports`, body, device);
    const held = response.headers.get(REPORT_DIGEST_HEADER);
    const digest = delta?.digest ?? reportDigest(report);
    device.base = response.status === 200 && held === digest ? { report, digest } : null;
    return { status: response.status, body, wasDelta: delta !== null };
  };

  const run = async (phase: Phase, seconds: number) => {
    const refused: Record<string, number> = {};
    let requests = 0;
    let bodyBytes = 0;
    let sampleBody = '';
    const elapsed = await eachDeviceInTurn(devices, CONCURRENCY, seconds, async (device) => {
      const { status, body, wasDelta } = await post(device, phase);
      // A request in the wrong form (a delta phase without a base) counts as refused.
      const form =
        phase === 'full' || phase === 'heartbeat' || wasDelta
          ? status
          : `${String(status)} sent in full`;
      if (form === 200) {
        requests++;
        bodyBytes += body.length;
        sampleBody = body;
      } else {
        refused[String(form)] = (refused[String(form)] ?? 0) + 1;
      }
    });
    return { requests, refused, seconds: elapsed, bodyBytes, sampleBody };
  };

  // Every device's first full report gives it a base, before any phase (a few at a time: all at
  // once would meet the ingest admission's 429s).
  await fewAtATime(devices, 8, async (d) => {
    const { status } = await post(d, 'full');
    if (status !== 200) {
      throw new Error(`first report refused: ${String(status)}`);
    }
  });
  await sendToServer({ type: 'ready' } satisfies FromClient);
  process.on('message', (message: ToClient) => {
    if (message.type !== 'phase') {
      return;
    }
    void (async () => {
      await run(message.phase, WARMUP_SECONDS);
      await sendToServer({ type: 'measuring' } satisfies FromClient);
      const result = await run(message.phase, SECONDS);
      await sendToServer({
        type: 'done',
        phase: message.phase,
        ...result,
        bodyBytes: result.requests === 0 ? 0 : result.bodyBytes / result.requests,
      } satisfies FromClient);
    })();
  });
}

// The clients stay after the start: each phase begins with a message of its own.
if (isClientProcess()) {
  serveAsClient(runClients, 'stay');
} else {
  await main();
}

// ---------------------------------------------------------------------------------------------
// The server process.

interface PhaseFigures {
  done: PhaseDone;
  serverCpu: number;
  pgCpu: number | null;
  statements: { query: string; calls: number; totalMs: number }[];
}

/** Two measurements of the same phase as one: CPU, requests and time summed, statements merged. */
function addFigures(a: PhaseFigures | undefined, b: PhaseFigures): PhaseFigures {
  if (a === undefined) {
    return b;
  }
  const requests = a.done.requests + b.done.requests;
  const refused = { ...a.done.refused };
  for (const [status, count] of Object.entries(b.done.refused)) {
    refused[status] = (refused[status] ?? 0) + count;
  }
  const statements = new Map(a.statements.map((st) => [st.query, { ...st }]));
  for (const st of b.statements) {
    const held = statements.get(st.query);
    statements.set(
      st.query,
      held === undefined
        ? { ...st }
        : { query: st.query, calls: held.calls + st.calls, totalMs: held.totalMs + st.totalMs },
    );
  }
  return {
    done: {
      ...b.done,
      requests,
      refused,
      seconds: a.done.seconds + b.done.seconds,
      bodyBytes:
        requests === 0
          ? 0
          : (a.done.bodyBytes * a.done.requests + b.done.bodyBytes * b.done.requests) / requests,
    },
    serverCpu: a.serverCpu + b.serverCpu,
    pgCpu: a.pgCpu === null || b.pgCpu === null ? null : a.pgCpu + b.pgCpu,
    statements: [...statements.values()].sort((x, y) => y.totalMs - x.totalMs),
  };
}

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
  let client: ClientProcess<ToClient, FromClient> | null = null;
  try {
    const target = await startIngestServer(postgres.url, 'warn');
    const { server } = target;
    const token = await benchEnrolmentToken(target, DEVICES);
    client = forkClient<ToClient, FromClient>(import.meta.url);
    client.send({ type: 'start', url: server.url, token });
    await client.next('ready');
    process.stdout.write(`enrolled ${String(DEVICES)} devices, each with a full report held\n`);

    const rawCount = async () =>
      (await server.db.query<{ n: number }>('select count(*)::int as n from reports'))[0]?.n ?? 0;
    const rawStored = new Map<Phase, number>();
    const figures = new Map<Phase, PhaseFigures>();
    /** Per round: server + PostgreSQL CPU per request, heartbeat and delta. */
    const rounds: { heartbeat: number; delta: number }[] = [];
    for (const [step, phase] of SCHEDULE.entries()) {
      const raw0 = await rawCount();
      client.send({ type: 'phase', phase });
      await client.next('measuring');
      const cpu0 = process.cpuUsage();
      const pg0 = postgresCpuSeconds(postgres.postmasterPid);
      const reset = resetStatementStats(postgres.url);
      const done = await client.next('done');
      const cpu = process.cpuUsage(cpu0);
      const pg1 = postgresCpuSeconds(postgres.postmasterPid);
      const statements = (await reset) ? await topStatements(postgres.url, 20) : [];
      rawStored.set(phase, (rawStored.get(phase) ?? 0) + (await rawCount()) - raw0);
      const measured: PhaseFigures = {
        done,
        serverCpu: (cpu.user + cpu.system) / 1e6,
        pgCpu: pg0 === null || pg1 === null ? null : pg1 - pg0,
        statements,
      };
      figures.set(phase, addFigures(figures.get(phase), measured));
      if (phase === 'heartbeat' || phase === 'delta') {
        const round = Math.floor((step - 1) / 2);
        const perRequest =
          measured.pgCpu === null
            ? Number.NaN
            : ((measured.serverCpu + measured.pgCpu) / done.requests) * 1e6;
        const entry = rounds[round] ?? { heartbeat: Number.NaN, delta: Number.NaN };
        entry[phase] = perRequest;
        rounds[round] = entry;
      }
      process.stdout.write(`${phase}: ${(done.requests / done.seconds).toFixed(0)} requests/s\n`);
    }
    client.disconnect();
    const deviceIds = (await server.db.query<{ id: string }>('select id from devices')).map(
      (r) => r.id,
    );
    await server.stop();

    const ceilings = await rawCeilings(postgres.url, deviceIds, postgresCpuSeconds, postgres);
    const verifyCost = new Map(
      PHASES.map((phase) => [phase, signatureCost(figures.get(phase)?.done.sampleBody ?? '')]),
    );

    const us = (seconds: number, count: number) => ((seconds / count) * 1e6).toFixed(0);
    const cores = os.cpus().length;
    const rows = PHASES.map((phase) => {
      const f = figures.get(phase);
      const v = verifyCost.get(phase);
      if (f === undefined || v === undefined) {
        throw new Error(`phase ${phase} missing`);
      }
      const n = f.done.requests;
      const serverUs = (f.serverCpu / n) * 1e6;
      const pgUs = f.pgCpu === null ? null : (f.pgCpu / n) * 1e6;
      const ingest = f.statements.find((s) => /^with (batch|device) as/.test(s.query));
      const nonce = f.statements.find((s) => s.query.startsWith('insert into seen_nonces'));
      const refused = Object.entries(f.done.refused)
        .map(([status, count]) => `${String(count)} × ${status}`)
        .join(', ');
      return {
        phase,
        line: `| ${LABELS[phase]} | ${(n / f.done.seconds).toFixed(0)} | ${f.done.bodyBytes.toFixed(0)} B | ${serverUs.toFixed(0)} µs | ${(v.allSeconds * 1e6).toFixed(0)} µs | **${(serverUs - v.allSeconds * 1e6).toFixed(0)} µs** | ${pgUs === null ? 'n/a' : `${pgUs.toFixed(0)} µs`} | ${ingest === undefined ? 'n/a' : `${((ingest.totalMs / n) * 1000).toFixed(0)} µs`} | ${nonce === undefined ? 'n/a' : `${((nonce.totalMs / n) * 1000).toFixed(0)} µs`} | **${pgUs === null ? 'n/a' : (serverUs + pgUs).toFixed(0)} µs** | **${pgUs === null ? 'n/a' : (serverUs - v.allSeconds * 1e6 + pgUs).toFixed(0)} µs** | ${refused === '' ? 'none' : refused} |`,
        serverUs,
        pgUs,
        verifyUs: v.allSeconds * 1e6,
        verifyOnlyUs: v.verifySeconds * 1e6,
      };
    });
    const delta = rows.find((r) => r.phase === 'delta');
    const full = rows.find((r) => r.phase === 'full');
    const heartbeat = rows.find((r) => r.phase === 'heartbeat');
    const perRequest = (row: (typeof rows)[number] | undefined) =>
      row === undefined || row.pgUs === null ? 'n/a' : (row.serverUs + row.pgUs).toFixed(0);
    const marginal =
      delta === undefined ||
      heartbeat === undefined ||
      delta.pgUs === null ||
      heartbeat.pgUs === null
        ? null
        : delta.serverUs + delta.pgUs - (heartbeat.serverUs + heartbeat.pgUs);
    const restDelta =
      delta === undefined || delta.pgUs === null
        ? null
        : delta.serverUs - delta.verifyUs + delta.pgUs;
    const restFull =
      full === undefined || full.pgUs === null ? null : full.serverUs - full.verifyUs + full.pgUs;
    const lines = [
      `## Unchanged reports (\`bench/unchanged.bench.ts\`, ${new Date().toISOString().slice(0, 10)})`,
      '',
      `Machine: ${String(cores)} × ${os.cpus()[0]?.model ?? 'cpu'}, ${process.platform}, Node ${process.version}; ${load}; ${sourceState()}; ${postgres.description} (fsync on).`,
      `Load: ${String(DEVICES)} devices enrolled through \`/api/v1/enroll\`, each holding a base (one full report) before the phases; ${String(CONCURRENCY)} requests in flight, each one report of ${String(CHECKS.length)} check results in one signed request (RFC 9421, P-256) over loopback HTTP, ${String(SECONDS)} s per phase after ${String(WARMUP_SECONDS)} s of warm-up (heartbeat and delta: ${String(ROUNDS)} alternating rounds of that, pooled in the table). Server (\`startServer\`, pool of 10, log level warn) in the benchmark process; clients in a forked child; PostgreSQL in its own processes; all on the same ${String(cores)} cores. Per-request CPU = CPU over the measured phase / requests answered 200.`,
      '',
      '| phase | requests/s | body | server CPU / request | of which signature (verify + key import + body digest, in-process) | server CPU less signature | PostgreSQL CPU / request | of which the ingest statement (pg_stat_statements) | of which the nonce insert | **server + PostgreSQL / request** | **server + PostgreSQL less signature** | refused |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...rows.map((r) => r.line),
      '',
      '| raw ceiling, same database, same concurrency | statements/s | PostgreSQL CPU / statement |',
      '| --- | --- | --- |',
      ...ceilings.map(
        (c) =>
          `| ${c.what} | ${c.perSecond.toFixed(0)} | ${c.pgCpu === null ? 'n/a' : `${us(c.pgCpu, c.count)} µs`} |`,
      ),
      '',
      `One P-256 verify alone: ${(delta?.verifyOnlyUs ?? 0).toFixed(0)} µs. Raw reports stored (news only, the default) during each phase, warm-up included: ${PHASES.map((phase) => `${phase} ${String(rawStored.get(phase) ?? 0)}`).join(', ')} (an unchanged report is never stored raw, in full or as a delta; a delta that changed a status is kept raw as it came, as a full report with news would be).`,
      '',
      "Where PostgreSQL's execution time went per request in each phase (pg_stat_statements; execution only, not parse, commit or the connection's own work):",
      '',
      '| phase | statement | calls / request | time / request |',
      '| --- | --- | --- | --- |',
      ...PHASES.flatMap((phase) => {
        const f = figures.get(phase);
        if (f === undefined) {
          return [];
        }
        return f.statements
          .filter((st) => !st.query.includes('pg_stat_statements'))
          .slice(0, 4)
          .map(
            (st) =>
              `| ${phase} | \`${st.query.slice(0, 80).replaceAll('|', '\\|')}${st.query.length > 80 ? '…' : ''}\` | ${(st.calls / f.done.requests).toFixed(2)} | ${((st.totalMs / f.done.requests) * 1000).toFixed(0)} µs |`,
          );
      }),
      '',
      `**What an unchanged report costs beyond the heartbeat it replaces** (the agent sends a heartbeat only after a whole interval without an accepted batch, so each unchanged report is one heartbeat fewer): ${marginal === null ? 'n/a' : `**${marginal.toFixed(0)} µs**`} of server + PostgreSQL CPU (delta ${perRequest(delta)} µs − heartbeat ${perRequest(heartbeat)} µs per request, ${String(ROUNDS)} alternating rounds pooled; round by round: ${rounds.map((r) => `${(r.delta - r.heartbeat).toFixed(0)} µs`).join(', ')}). Goal ≤ 50 µs: ${marginal === null ? 'not measured' : marginal <= 50 ? 'met' : 'not met'}.`,
      '',
      `As a signed request of its own, an unchanged delta costs ${restDelta === null ? 'n/a' : restDelta.toFixed(0)} µs besides the signature (${restFull === null ? 'n/a' : restFull.toFixed(0)} µs for the same report in full), and the signature check alone is ${(delta?.verifyUs ?? 0).toFixed(0)} µs: per request, not per report, is where the cost is. See the findings below.`,
    ];
    const markdown = lines.join('\n');
    process.stdout.write(`${markdown}\n`);
    await recordResults('unchanged', markdown);
  } finally {
    client?.kill();
    postgres.stop();
  }
}

/**
 * The database's own ceilings at the same concurrency: each report's full body inserted raw, one
 * statement each (what storing every report costs at least), and one UPDATE of the device row
 * (what any report costs at least: its contact time).
 */
async function rawCeilings(
  url: string,
  deviceIds: string[],
  cpuSeconds: (pid: number | null) => number | null,
  postgres: { postmasterPid: number | null },
): Promise<{ what: string; perSecond: number; count: number; pgCpu: number | null }[]> {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  const devices = deviceIds.map((id, n) => ({ id, sim: simDevice(n) }));
  const kinds = [
    {
      what: 'INSERT of one full report raw into `reports`',
      write: async (device: (typeof devices)[number]) => {
        const r = nextReport(device.sim, false);
        await pool.query(
          'insert into reports (id, device_id, created_at, received_at, body) values ($1, $2, $3, now(), $4)',
          [r.id, device.id, r.createdAt, JSON.stringify(r)],
        );
      },
    },
    {
      what: 'UPDATE of the device row (`last_seen_at`)',
      write: async (device: (typeof devices)[number]) => {
        await pool.query('update devices set last_seen_at = now() where id = $1', [device.id]);
      },
    },
  ];
  const run = async (
    write: (device: (typeof devices)[number]) => Promise<void>,
    seconds: number,
  ) => {
    let count = 0;
    const elapsed = await eachDeviceInTurn(devices, CONCURRENCY, seconds, async (device) => {
      await write(device);
      count++;
    });
    return { count, seconds: elapsed };
  };
  try {
    const results = [];
    for (const kind of kinds) {
      await run(kind.write, WARMUP_SECONDS);
      const pg0 = cpuSeconds(postgres.postmasterPid);
      const { count, seconds } = await run(kind.write, SECONDS);
      const pg1 = cpuSeconds(postgres.postmasterPid);
      results.push({
        what: kind.what,
        perSecond: count / seconds,
        count,
        pgCpu: pg0 === null || pg1 === null ? null : pg1 - pg0,
      });
    }
    return results;
  } finally {
    await pool.end();
  }
}

/**
 * CPU seconds per request this process needs for a signature check as the server does it on
 * `body`: the P-256 verify alone, and with the key import (SPKI DER) and the body's digest.
 */
function signatureCost(body: string): { verifySeconds: number; allSeconds: number } {
  const rounds = 2000;
  const { verifySeconds, allSeconds } = signatureCheckCost(body, rounds);
  return { verifySeconds: verifySeconds / rounds, allSeconds: allSeconds / rounds };
}
