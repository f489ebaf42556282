// Benchmark: the ICT summary and device-list queries with 100,000 devices and their check rows
// seeded straight into PostgreSQL (generate_series: ~20 schools, 3 groups, a realistic status
// mix, some silent, never-reported and retired devices). Server time of each request through
// app.inject with a signed-in admin session, p50/p95 after warm-up; goal p95 ≤ 100 ms. A case
// that misses gets EXPLAIN ANALYZE of its statements. Writes bench/RESULTS.md.
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

/** Fills an empty (migrated) database with `devices` devices and their check rows. */
async function seed(db: Database, devices: number): Promise<void> {
  // One transaction: the temp table and the random seed belong to one connection.
  await db.transaction(async (tx) => {
    await tx.exec(`
    select setseed(0.42);
    insert into schools (name)
      select format('School %s', lpad(g::text, 2, '0')) from generate_series(1, 20) g;
    insert into device_groups (name) values ('Pupil laptops'), ('Staff laptops'), ('Shared desktops');
    create temp table seed as
      select g, gen_random_uuid() as id,
             array(select case when r < 0.90 then 'pass' when r < 0.94 then 'fail'
                               when r < 0.98 then 'warn' else 'unknown' end
                     from (select random() as r from generate_series(1, 5) where g > 0) x) as statuses,
             random() < 0.01 as never_reported,
             random() < 0.05 as silent,
             random() < 0.005 as retired,
             random() as r
        from generate_series(1, ${String(devices)}) g;
  `);
    await tx.exec(`
    insert into devices (id, school_id, group_id, public_key_spki, machine_id_hash, hostname, serial,
                         os_name, facts, enrolled_at, last_seen_at, last_report_at, overall_status,
                         policy_version, retired_at)
    select s.id, sc.id, gr.id, 'bench-key-' || s.g, encode(sha256(s.g::text::bytea), 'hex'),
           format('%s-lt-%s', lower(replace(sc.name, ' ', '')), lpad(s.g::text, 6, '0')),
           'PF' || upper(substr(md5(s.g::text), 1, 8)), 'windows',
           jsonb_build_object(
             'hostname', format('%s-lt-%s', lower(replace(sc.name, ' ', '')), lpad(s.g::text, 6, '0')),
             'os', jsonb_build_object('name', 'windows', 'distro', 'Microsoft Windows 11 Education',
                                      'version', '10.0.22631', 'build', '22631', 'arch', 'x64'),
             'model', 'ThinkPad L13 Gen 4', 'manufacturer', 'LENOVO',
             'serial', 'PF' || upper(substr(md5(s.g::text), 1, 8)),
             'machineIdHash', encode(sha256(s.g::text::bytea), 'hex'), 'agentVersion', '0.1.0'),
           now() - interval '200 days' + s.r * interval '100 days',
           case when s.never_reported then null
                when s.silent then now() - interval '8 days' - s.r * interval '50 days'
                else now() - s.r * interval '1 hour' end,
           case when s.never_reported then null
                when s.silent then now() - interval '8 days' - s.r * interval '50 days'
                else now() - s.r * interval '1 hour' end,
           case when s.never_reported then null
                when 'fail' = any(s.statuses) then 'fail'
                when 'unknown' = any(s.statuses) then 'unknown'
                when 'warn' = any(s.statuses) then 'warn' else 'pass' end,
           case when s.never_reported then null else 1 end,
           case when s.retired then now() - interval '30 days' end
      from seed s
      join (select id, name, row_number() over (order by name) - 1 as n from schools) sc on sc.n = s.g % 20
      join (select id, row_number() over (order by name) - 1 as n from device_groups) gr on gr.n = s.g % 3;
  `);
    await tx.exec(`
    insert into check_states (device_id, check_id, status, summary, remediation, evidence, measured_at, changed_at)
    select s.id, c.check_id, s.statuses[c.n],
           c.check_id || ': ' || case when s.statuses[c.n] = 'pass' then 'compliant' else 'needs attention' end,
           case when s.statuses[c.n] <> 'pass' then 'Ask ICT to look at ' || c.check_id end,
           jsonb_build_object('source', 'bench', 'enabled', s.statuses[c.n] = 'pass', 'version', '4.18.24090.11'),
           d.last_report_at, d.last_report_at - interval '3 days'
      from seed s join devices d on d.id = s.id
      cross join (values (1, 'disk-encryption'), (2, 'antivirus'), (3, 'os-updates'),
                         (4, 'firewall'), (5, 'screen-lock')) c(n, check_id)
     where not s.never_reported;
    drop table seed;
  `);
  });
  await db.exec('vacuum analyze');
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

/** Runs every case against `raw` (already seeded); returns their timings. */
async function measure(raw: Database): Promise<CaseResult[]> {
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
      ['devices, schoolId', `/api/v1/ict/devices?schoolId=${school?.id ?? ''}`],
      ['devices, silentDays=7', '/api/v1/ict/devices?silentDays=7'],
      ['devices, search (hostname part)', '/api/v1/ict/devices?search=lt-0042'],
      [`devices, offset=${String(deep)}`, `/api/v1/ict/devices?offset=${String(deep)}`],
      [
        `devices, after=<cursor at ${String(deep)}>`,
        `/api/v1/ict/devices?after=${cursor?.id ?? ''}`,
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
          total = response.json<{ total?: number }>().total ?? null;
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
    return results;
  } finally {
    await app.close();
  }
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
  let seedSeconds: number;
  try {
    const t0 = performance.now();
    await seed(db, DEVICES);
    seedSeconds = (performance.now() - t0) / 1000;
    process.stdout.write(`seeded ${String(DEVICES)} devices in ${seedSeconds.toFixed(1)} s\n`);
    results = await measure(db);
  } finally {
    await db.close();
  }
  lines.push(
    `## ICT summary and device-list queries (\`bench/queries.bench.ts\`, ${new Date().toISOString().slice(0, 10)})`,
    '',
    `Machine: ${String(os.cpus().length)} × ${os.cpus()[0]?.model ?? 'cpu'}, ${process.platform}, Node ${process.version}; ${load}; ${sourceState()}; ${postgres.description}.`,
    `Fleet: ${DEVICES.toLocaleString('en-GB')} devices seeded with SQL (seeded in ${seedSeconds.toFixed(0)} s) over 20 schools and 3 groups, 5 check rows each (90 % pass, 4 % fail, 4 % warn, 2 % unknown per check), 5 % silent for 8–58 days, 1 % never reported, 0.5 % retired; \`vacuum analyze\` after seeding. Each request through \`app.inject\` with a signed-in admin session (cookie checked against the sessions table on every request): ${String(ROUNDS)} runs after ${String(WARMUP)} warm-up runs, one at a time. Pages are 100 rows.`,
    '',
    ...table(results),
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
