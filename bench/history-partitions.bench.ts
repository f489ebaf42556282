// Experiment (issue 18, docs/scaling.md): what monthly partitions of check history (migration 019)
// cost the reads of one device's history that have no time bound. The same fleet is seeded twice
// into a private PostgreSQL, at the schema before 019: BENCH_PARTITIONS_DEVICES devices (100,000), 5 check rows
// each with 4 % failing, 10 check changes each spread over the last 400 days. One copy then gets
// migration 019. On each: the chase list (limit 1,000; it reads check_states only since it takes
// "failing since" from changed_at, so it is the control) 20 times after 3 warm-ups, and the device
// page's history query for 200 random devices after a warm-up pass. Prints markdown; does not
// write bench/RESULTS.md (not part of `npm run bench`).
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import pg from 'pg';
import { openPostgres } from '../server/db/postgres.ts';
import { chaseList } from '../server/store/chase-list.ts';
import { startBenchPostgres } from './postgres.ts';

const DEVICES = Number(process.env.BENCH_PARTITIONS_DEVICES ?? 100_000);
const folder = new URL('../server/db/migrations/', import.meta.url);
const migrations = readdirSync(folder)
  .filter((name) => /^\d{3}-[a-z0-9-]+\.sql$/.test(name))
  .sort();
const sql = (name: string) => readFileSync(new URL(name, folder), 'utf8');

const SEED = `
insert into schools (name) select 'School ' || g from generate_series(1, 20) g;
insert into device_groups (name) values ('Pupil laptops');
insert into devices (school_id, group_id, public_key_spki, hostname, os_name, facts, last_seen_at)
  select (select array_agg(id order by name) from schools)[1 + g % 20],
         (select id from device_groups), 'key-' || g, 'lt-' || g, 'windows', '{}', now()
    from generate_series(1, ${String(DEVICES)}) g;
insert into check_states (device_id, check_id, status, summary, evidence, measured_at, changed_at)
  select d.id, c, case when random() < 0.04 then 'fail' else 'pass' end, 's', '{}', now(),
         now() - interval '3 days'
    from devices d
   cross join unnest(array['disk-encryption', 'antivirus', 'os-updates', 'firewall', 'screen-lock']) c;
insert into check_changes (device_id, check_id, from_status, to_status, summary, measured_at, recorded_at)
  select s.device_id, s.check_id, 'pass', case when random() < 0.5 then 'fail' else 'pass' end, 's', t, t
    from check_states s
   cross join lateral (select now() - random() * interval '400 days' as t
                         from generate_series(1, 2) where s.device_id is not null) x;
analyze;`;

const percentile = (values: readonly number[], p: number): number =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))] ??
  0;
const ms = (value: number) => `${value < 10 ? value.toFixed(2) : value.toFixed(0)} ms`;

interface Variant {
  partitions: number;
  changes: number;
  migrateSeconds: number | null;
  chase: number[];
  history: number[];
}

async function measure(clusterUrl: string, partitioned: boolean): Promise<Variant> {
  const name = `bench_partitions_${partitioned ? 'on' : 'off'}`;
  const admin = new pg.Client({ connectionString: clusterUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(clusterUrl);
  url.pathname = `/${name}`;
  const db = openPostgres(url.toString());
  try {
    for (const file of migrations.filter((m) => Number(m.slice(0, 3)) < 19)) {
      await db.exec(sql(file));
    }
    await db.exec(SEED);
    let migrateSeconds: number | null = null;
    if (partitioned) {
      const began = performance.now();
      await db.exec(sql('019-history-partitions.sql'));
      migrateSeconds = (performance.now() - began) / 1000;
      await db.exec('analyze');
    }
    const [counts] = await db.query<{ changes: string; partitions: string }>(
      `select (select count(*) from check_changes)::text as changes,
              (select count(*) from pg_inherits where inhparent = 'check_changes'::regclass)::text as partitions`,
    );
    const chase: number[] = [];
    for (let run = 0; run < 23; run++) {
      const began = performance.now();
      await chaseList(db, { limit: 1000 });
      if (run >= 3) {
        chase.push(performance.now() - began);
      }
    }
    const ids = await db.query<{ id: string }>(
      'select id from devices order by random() limit 200',
    );
    const history: number[] = [];
    for (const [run, { id }] of [...ids, ...ids].entries()) {
      const began = performance.now();
      // The device page's history query (server/store/device-detail.ts).
      await db.query(
        `select check_id, from_status, to_status, summary, measured_at
           from check_changes where device_id = $1 order by measured_at desc, id desc limit 100`,
        [id],
      );
      if (run >= ids.length) {
        history.push(performance.now() - began);
      }
    }
    return {
      partitions: Number(counts?.partitions ?? 0),
      changes: Number(counts?.changes ?? 0),
      migrateSeconds,
      chase,
      history,
    };
  } finally {
    await db.close();
  }
}

const cluster = await startBenchPostgres();
try {
  const load = os.loadavg()[0] ?? 0;
  const plain = await measure(cluster.url, false);
  const parted = await measure(cluster.url, true);
  const row = (label: string, pick: (v: Variant) => number[]) =>
    `| ${label}, p50 / p95 | ${ms(percentile(pick(plain), 0.5))} / ${ms(percentile(pick(plain), 0.95))} | ${ms(percentile(pick(parted), 0.5))} / ${ms(percentile(pick(parted), 0.95))} |`;
  process.stdout.write(
    [
      `## History partitions: reads (\`bench/history-partitions.bench.ts\`, ${new Date().toISOString().slice(0, 10)})`,
      '',
      `Machine: ${String(os.cpus().length)} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, load average ${load.toFixed(1)} at the start; ${cluster.description}.`,
      `${DEVICES.toLocaleString('en-GB')} devices, ${plain.changes.toLocaleString('en-GB')} check changes over 400 days.`,
      '',
      `| | one table | ${String(parted.partitions)} partitions |`,
      '| --- | --- | --- |',
      row('chase list (limit 1,000)', (v) => v.chase),
      row("one device's history (100 rows)", (v) => v.history),
      `| migration 019 moving the rows | – | ${(parted.migrateSeconds ?? 0).toFixed(1)} s |`,
      '',
    ].join('\n'),
  );
} finally {
  cluster.stop();
}
