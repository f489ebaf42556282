// Benchmark: the ICT dashboard's queries with 100,000 devices and their check rows seeded straight
// into PostgreSQL (generate_series: ~20 schools, 3 groups, a realistic status mix, some silent,
// never-reported and retired devices) and a year of history (bench/queries-history-seed.ts:
// daily snapshots, check changes, events, audit log, policy versions). Summary, device list,
// trends, chase list, school page, audit log and policy pages: server time of each request
// through app.inject with a signed-in admin session, p50/p95 after warm-up; goal p95 ≤ 100 ms. A
// case that misses gets EXPLAIN ANALYZE of its statements. Writes bench/RESULTS.md.
//
// BENCH_FLEET (default 100000) sets the fleet, BENCH_QUERY_ROUNDS (default 50) the runs per case.
// BENCH_PGLITE=1 adds the same cases on embedded PGlite with a tenth of the fleet.
import os from 'node:os';
import { buildApp } from '../server/app.ts';
import { defaultServerConfig } from '../server/config.ts';
import type { Database, Queryable } from '../server/db/db.ts';
import { openDatabase } from '../server/db/open-database.ts';
import { createUser } from '../server/store/users.ts';
import { median, recordResults } from './results-file.ts';
import { loadNote, sourceState, startBenchPostgres } from './postgres.ts';
import {
  AUDIT_ACTORS,
  HISTORY_DAYS,
  POLICY_VERSIONS,
  seed,
  seedHistory,
  type HistoryCounts,
} from './queries-seed.ts';

const DEVICES = Number(process.env.BENCH_FLEET ?? 100_000);
const ROUNDS = Number(process.env.BENCH_QUERY_ROUNDS ?? 50);
const WARMUP = 5;
const GOAL_MS = 100;
const PASSWORD = 'correct horse battery staple';

/** p-th percentile (0–100) of a list, nearest rank. */
function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

/** A Database that records each statement a request runs, with its time. */
function recording(db: Database): {
  db: Database;
  log: { sql: string; params: readonly unknown[]; ms: number }[];
} {
  const log: { sql: string; params: readonly unknown[]; ms: number }[] = [];
  const timed =
    (q: Queryable): Queryable['query'] =>
    async (sql, params) => {
      const t0 = performance.now();
      const rows = await q.query(sql, params);
      log.push({ sql, params: params ?? [], ms: performance.now() - t0 });
      return rows as never;
    };
  return {
    log,
    db: {
      engine: db.engine,
      query: timed(db),
      exec: (sql) => db.exec(sql),
      transaction: (work) =>
        db.transaction((tx) => work({ query: timed(tx), exec: (sql) => tx.exec(sql) })),
      close: () => db.close(),
    },
  };
}

interface CaseResult {
  name: string;
  url: string;
  p50: number;
  p95: number;
  slowestSqlP50: number;
  total: number | null;
  plans: string[];
}

/** What a response matched: its `total`, else the length of its list (trend days, policies). */
function matches(body: unknown): number | null {
  if (typeof body !== 'object' || body === null) {
    return null;
  }
  const record = body as Record<string, unknown>;
  if (typeof record.total === 'number') {
    return record.total;
  }
  const list = record.days ?? record.items;
  return Array.isArray(list) ? list.length : null;
}

/** One governors' PDF timed: whole requests, the document drawn and sent. */
interface PdfResult {
  name: string;
  p50: number;
  max: number;
  bytes: number;
  pages: string;
}

/** The governors' report rounds: fewer than the pages', each draws a whole document. */
const PDF_ROUNDS = 10;
/** The goal for the whole trust's PDF at this size. */
const PDF_GOAL_MS = 5000;

/**
 * Runs every case against `raw` (already seeded); returns their timings, and the governors' PDF
 * timings in `pdfs` when given.
 */
async function measure(raw: Database, pdfs?: PdfResult[]): Promise<CaseResult[]> {
  const { db, log } = recording(raw);
  const app = await buildApp({
    config: { ...defaultServerConfig, logLevel: 'silent' },
    db,
    logger: false,
  });
  try {
    await createUser(raw, { username: 'bench-admin', password: PASSWORD, role: 'admin' });
    const signIn = await app.inject({
      method: 'POST',
      url: '/api/v1/ict/session',
      payload: { username: 'bench-admin', password: PASSWORD },
    });
    if (signIn.statusCode !== 200) {
      throw new Error(`sign-in failed: ${String(signIn.statusCode)} ${signIn.body}`);
    }
    const cookie = String(signIn.headers['set-cookie']).split(';')[0] ?? '';
    const [school] = await raw.query<{ id: string }>(
      "select id from schools where name = 'School 07'",
    );
    // The keyset cursor at the same depth as the deep offset: the id of the device before it.
    const deep = Math.floor(DEVICES * 0.9);
    const [cursor] = await raw.query<{ id: string }>(
      'select id from devices where retired_at is null order by hostname, id offset $1 limit 1',
      [deep - 1],
    );
    const [group] = await raw.query<{ id: string }>(
      "select id from device_groups where name = 'Pupil laptops'",
    );
    const schoolId = school?.id ?? '';
    const groupId = group?.id ?? '';
    // A month ten months back, as the audit page's from/to ask for it.
    const day = (daysAgo: number) =>
      new Date(Date.now() - daysAgo * 86_400_000).toISOString().slice(0, 10);
    const cases: [string, string][] = [
      ['summary', '/api/v1/ict/summary'],
      ['devices, no filter', '/api/v1/ict/devices'],
      ['devices, status=fail', '/api/v1/ict/devices?status=fail'],
      [
        'devices, checkId=firewall & status=fail',
        '/api/v1/ict/devices?checkId=firewall&status=fail',
      ],
      [
        'devices, checkId=antivirus & status=none',
        '/api/v1/ict/devices?checkId=antivirus&status=none',
      ],
      ['devices, schoolId', `/api/v1/ict/devices?schoolId=${schoolId}`],
      ['devices, silentDays=7', '/api/v1/ict/devices?silentDays=7'],
      ['devices, search (hostname part)', '/api/v1/ict/devices?search=lt-0042'],
      [`devices, offset=${String(deep)}`, `/api/v1/ict/devices?offset=${String(deep)}`],
      [
        `devices, after=<cursor at ${String(deep)}>`,
        `/api/v1/ict/devices?after=${cursor?.id ?? ''}`,
      ],
      // Trends: the overview asks for the default range (400 days), a year is 365.
      ['trends, trust', '/api/v1/ict/trends?scope=trust'],
      ['trends, trust, days=365', '/api/v1/ict/trends?scope=trust&days=365'],
      ['trends, school', `/api/v1/ict/trends?scope=school&id=${schoolId}`],
      ['trends, school, days=365', `/api/v1/ict/trends?scope=school&id=${schoolId}&days=365`],
      ['trends, check', '/api/v1/ict/trends?scope=check&id=firewall'],
      ['trends, check, days=365', '/api/v1/ict/trends?scope=check&id=firewall&days=365'],
      // The chase page sorts (failing since, last contact, …) and builds its CSV in the browser
      // from this one answer (ui/dashboard/chase.ts): those are this request's server time.
      ['chase list (sorts and CSV are in the page)', '/api/v1/ict/chase-list'],
      ['chase list, schoolId', `/api/v1/ict/chase-list?schoolId=${schoolId}`],
      ['chase list, limit=5000 (the most it answers)', '/api/v1/ict/chase-list?limit=5000'],
      ['school page', `/api/v1/ict/schools/${schoolId}/compliance?staleDays=7`],
      // The audit page has no offset: older rows are a from/to filter; its CSV is the page's rows.
      ['audit log, first page (500)', '/api/v1/ict/audit'],
      ['audit log, action=usb.revoke', '/api/v1/ict/audit?action=usb.revoke'],
      ['audit log, actor', '/api/v1/ict/audit?actor=ict-admin-3'],
      ['audit log, a month 10 months back', `/api/v1/ict/audit?from=${day(300)}&to=${day(270)}`],
      ['audit log, limit=1000 (the most it answers)', '/api/v1/ict/audit?limit=1000'],
      ['policies (every group)', '/api/v1/ict/policies'],
      ['policy history (a group)', `/api/v1/ict/groups/${groupId}/policy/versions`],
      [
        'policy version (a group’s newest)',
        `/api/v1/ict/groups/${groupId}/policy/versions/${String(POLICY_VERSIONS)}`,
      ],
    ];
    const results: CaseResult[] = [];
    for (const [name, url] of cases) {
      const times: number[] = [];
      const slowestSql: number[] = [];
      let total: number | null = null;
      for (let i = 0; i < WARMUP + ROUNDS; i++) {
        log.length = 0;
        const t0 = performance.now();
        const response = await app.inject({ method: 'GET', url, headers: { cookie } });
        const ms = performance.now() - t0;
        if (response.statusCode !== 200) {
          throw new Error(`${url}: ${String(response.statusCode)} ${response.body}`);
        }
        if (i >= WARMUP) {
          times.push(ms);
          slowestSql.push(Math.max(...log.map((l) => l.ms)));
          total = matches(response.json());
        }
      }
      // The statements of one request, for EXPLAIN ANALYZE when the case misses the goal.
      log.length = 0;
      await app.inject({ method: 'GET', url, headers: { cookie } });
      const statements = [...log];
      const p95 = percentile(times, 95);
      const plans: string[] = [];
      if (p95 > GOAL_MS) {
        for (const s of statements.filter((s) => !/from sessions|update sessions/.test(s.sql))) {
          const rows = await raw.query<{ 'QUERY PLAN': string }>(
            `explain (analyze, buffers) ${s.sql}`,
            s.params,
          );
          plans.push(rows.map((r) => r['QUERY PLAN']).join('\n'));
        }
      }
      results.push({
        name,
        url,
        p50: median(times),
        p95,
        slowestSqlP50: median(slowestSql),
        total,
        plans,
      });
      process.stdout.write(
        `${name}: p50 ${median(times).toFixed(1)} ms, p95 ${p95.toFixed(1)} ms\n`,
      );
    }
    const reports: [string, string][] = [
      ['whole trust, 30 days', '/api/v1/ict/reports/governors.pdf'],
      ['whole trust, 400 days', '/api/v1/ict/reports/governors.pdf?days=400'],
      ['one school, 400 days', `/api/v1/ict/reports/governors.pdf?schoolId=${schoolId}&days=400`],
    ];
    for (const [name, url] of pdfs === undefined ? [] : reports) {
      const times: number[] = [];
      let bytes = 0;
      let pages = '?';
      for (let i = 0; i < 1 + PDF_ROUNDS; i++) {
        const t0 = performance.now();
        const response = await app.inject({ method: 'GET', url, headers: { cookie } });
        const ms = performance.now() - t0;
        if (response.statusCode !== 200 || !response.rawPayload.subarray(0, 5).equals(PDF_MAGIC)) {
          throw new Error(`${url}: ${String(response.statusCode)} ${response.body.slice(0, 200)}`);
        }
        if (i > 0) {
          times.push(ms);
        }
        bytes = response.rawPayload.length;
        pages = /\/Type \/Pages[^>]*\/Count (\d+)/.exec(response.body)?.[1] ?? '?';
      }
      pdfs?.push({ name, p50: median(times), max: Math.max(...times), bytes, pages });
      process.stdout.write(`governors' PDF, ${name}: p50 ${median(times).toFixed(0)} ms\n`);
    }
    return results;
  } finally {
    await app.close();
  }
}

const PDF_MAGIC = Buffer.from('%PDF-');

function pdfTable(results: readonly PdfResult[]): string[] {
  return [
    `| governors' PDF | pages | size | p50 | **slowest** (goal < ${String(PDF_GOAL_MS / 1000)} s) |`,
    '| --- | --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${r.name} | ${r.pages} | ${(r.bytes / 1024).toFixed(1)} KB | ${r.p50.toFixed(0)} ms | ${r.max >= PDF_GOAL_MS ? '**' : ''}${r.max.toFixed(0)} ms${r.max >= PDF_GOAL_MS ? ' ✗**' : ''} |`,
    ),
  ];
}

function table(results: readonly CaseResult[]): string[] {
  return [
    '| request | matches | p50 | **p95** (goal ≤ 100 ms) | slowest SQL statement, p50 |',
    '| --- | --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${r.name} | ${r.total === null ? '–' : r.total.toLocaleString('en-GB')} | ${r.p50.toFixed(1)} ms | ${r.p95 > GOAL_MS ? '**' : ''}${r.p95.toFixed(1)} ms${r.p95 > GOAL_MS ? ' ✗**' : ''} | ${r.slowestSqlP50.toFixed(1)} ms |`,
    ),
  ];
}

function plans(results: readonly CaseResult[]): string[] {
  return results
    .filter((r) => r.plans.length > 0)
    .flatMap((r) => [
      '',
      `<details><summary>EXPLAIN ANALYZE: ${r.name}</summary>`,
      '',
      '```',
      // The plan's shape and times; buffer and per-worker lines left out for length.
      ...r.plans.map((p) =>
        p
          .split('\n')
          .filter((l) => !/^\s*(Buffers|Worker \d|Planning:|Heap Blocks)/.test(l))
          .slice(0, 30)
          .join('\n'),
      ),
      '```',
      '',
      '</details>',
    ]);
}

const load = loadNote();
const postgres = await startBenchPostgres();
const lines: string[] = [];
try {
  const db = await openDatabase({ kind: 'postgresql', url: postgres.url });
  let results: CaseResult[];
  const pdfs: PdfResult[] = [];
  let seedSeconds: number;
  let history: HistoryCounts;
  try {
    const t0 = performance.now();
    await seed(db, DEVICES);
    const fleetSeconds = (performance.now() - t0) / 1000;
    history = await seedHistory(db, new Date());
    seedSeconds = (performance.now() - t0) / 1000;
    process.stdout.write(
      `seeded ${String(DEVICES)} devices in ${fleetSeconds.toFixed(1)} s, their history by ${seedSeconds.toFixed(1)} s: ${JSON.stringify(history)}\n`,
    );
    results = await measure(db, pdfs);
  } finally {
    await db.close();
  }
  lines.push(
    `## ICT dashboard queries (\`bench/queries.bench.ts\`, ${new Date().toISOString().slice(0, 10)})`,
    '',
    `Machine: ${String(os.cpus().length)} × ${os.cpus()[0]?.model ?? 'cpu'}, ${process.platform}, Node ${process.version}; ${load}; ${sourceState()}; ${postgres.description}.`,
    `Fleet: ${DEVICES.toLocaleString('en-GB')} devices seeded with SQL (seeded in ${seedSeconds.toFixed(0)} s) over 20 schools and 3 groups, 5 check rows each (90 % pass, 4 % fail, 4 % warn, 2 % unknown per check), 5 % silent for 8–58 days, 1 % never reported, 0.5 % retired. A year of history on top (${String(HISTORY_DAYS)} days): ${history.snapshots.toLocaleString('en-GB')} daily compliance snapshot rows (the trust, each school, each check; today's written by the real snapshot job), ${history.checkChanges.toLocaleString('en-GB')} check changes (2–5 per failing check, 0–2 per other), ${history.events.toLocaleString('en-GB')} device events (4 idle locks naming the user per device that reported, a tenth with a newer event naming no one), ${history.audit.toLocaleString('en-GB')} audit-log rows by ${String(AUDIT_ACTORS)} admins, ${history.policies.toLocaleString('en-GB')} policy versions (${String(POLICY_VERSIONS)} a group). \`vacuum analyze\` after seeding. Each request through \`app.inject\` with a signed-in admin session (cookie checked against the sessions table on every request): ${String(ROUNDS)} runs after ${String(WARMUP)} warm-up runs, one at a time. Device-list pages are 100 rows; the chase list answers 1,000 devices and the audit log 500 rows unless asked for more (as their pages ask).`,
    '',
    ...table(results),
    '',
    `The governors' report (\`GET /api/v1/ict/reports/governors.pdf\`, drawn by pdfkit from the same queries), the same fleet and history: ${String(PDF_ROUNDS)} requests each after one warm-up, the whole document drawn and sent per request.`,
    '',
    ...pdfTable(pdfs),
    ...plans(results),
  );
} finally {
  postgres.stop();
}

if (process.env.BENCH_PGLITE === '1') {
  const small = Math.floor(DEVICES / 10);
  const db = await openDatabase({ kind: 'pglite', dataDir: null });
  try {
    await seed(db, small);
    await seedHistory(db, new Date());
    const results = await measure(db);
    lines.push(
      '',
      `### Embedded PGlite (in memory), ${small.toLocaleString('en-GB')} devices`,
      '',
      ...table(results),
    );
  } finally {
    await db.close();
  }
}

const markdown = lines.join('\n');
process.stdout.write(markdown + '\n');
await recordResults('queries', markdown);
