// Benchmark (issue 18): what a trust's database holds per device per day at steady state, table by
// table, and whether it stays flat once the retention windows have passed. Simulated days, time
// compressed: BENCH_STORAGE_DEVICES devices (300) report for BENCH_STORAGE_DAYS days (60) through
// the server's own ingest statement (`ingestBatch`, default storage: raw reports only when they
// carry news) on PostgreSQL, with the server's housekeeping (raw report and history purges, the
// daily snapshot) run at the end of each simulated day and a plain VACUUM standing in for the
// autovacuum a real day would give. Each device sends BENCH_STORAGE_REPORTS_PER_DAY reports (24;
// the agent's default is 96, and an unchanged report stores no row, so fewer only shortens the
// run), delivered BENCH_STORAGE_BATCH (8) at a time. Each check changes status on a device-day
// with probability BENCH_STORAGE_CHANGE_RATE (0.03); on school days (Mon–Fri) each device sends
// one usb.blocked event with probability 0.2. History is kept BENCH_STORAGE_HISTORY_DAYS (30; the
// server's default is 400) so that the run passes both windows. Writes bench/RESULTS.md.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import {
  SCHEMA_VERSION,
  type AgentEvent,
  type CheckResult,
  type CheckStatus,
  type ComplianceReport,
  type DeviceFacts,
} from '../shared/index.ts';
import { openDatabase } from '../server/db/open-database.ts';
import { ensureHistoryPartitions } from '../server/store/history-partitions.ts';
import { purgeOldHistory } from '../server/store/history-retention.ts';
import { ingestBatch, purgeOldReports } from '../server/store/ingest.ts';
import { takeDailySnapshot } from '../server/store/compliance-snapshots.ts';
import { ensureDeviceGroup, ensureSchool } from '../server/store/organisation.ts';
import { usbBlockedData } from '../test/helpers/usb-sample.ts';
import { loadNote, sourceState, startBenchPostgres } from './postgres.ts';
import { recordResults } from './results-file.ts';
import { simulatedFacts } from './simulated-facts.ts';

const DEVICES = Number(process.env.BENCH_STORAGE_DEVICES ?? 300);
const DAYS = Number(process.env.BENCH_STORAGE_DAYS ?? 60);
const REPORTS_PER_DAY = Number(process.env.BENCH_STORAGE_REPORTS_PER_DAY ?? 24);
const BATCH = Number(process.env.BENCH_STORAGE_BATCH ?? 8);
const CHANGE_RATE = Number(process.env.BENCH_STORAGE_CHANGE_RATE ?? 0.03);
const HISTORY_DAYS = Number(process.env.BENCH_STORAGE_HISTORY_DAYS ?? 30);
const RAW_DAYS = 30;
const DAY = 86_400_000;
const CHECKS = ['disk-encryption', 'antivirus', 'os-updates', 'firewall', 'screen-lock'] as const;
const TABLES = [
  'reports',
  'check_changes',
  'events',
  'check_states',
  'devices',
  'compliance_snapshots',
  'aup_seen_users',
  // One row per event naming a user (subject access, migration 021): grows with events.
  'person_events',
] as const;

interface SimDevice {
  id: string;
  facts: DeviceFacts;
  statuses: CheckStatus[];
}

function newDevice(n: number): SimDevice {
  return {
    id: randomUUID(),
    facts: simulatedFacts(n),
    statuses: CHECKS.map(() => (Math.random() < 0.9 ? 'pass' : 'fail')),
  };
}

function report(device: SimDevice, at: Date): ComplianceReport {
  const iso = at.toISOString();
  const results: CheckResult[] = CHECKS.map((checkId, i) => {
    const status = device.statuses[i] ?? 'pass';
    return {
      checkId,
      status,
      summary: `${checkId}: ${status === 'pass' ? 'compliant' : 'needs attention'}`,
      // Evidence that differs every time, as real evidence does (a timestamp), yet is not news.
      evidence: { source: 'bench', probe: `${checkId}-probe`, values: { lastUpdate: iso } },
      measuredAt: iso,
      durationMs: 12.5,
    };
  });
  return {
    schemaVersion: SCHEMA_VERSION,
    id: randomUUID(),
    createdAt: iso,
    policy: { name: 'Pupil laptops', version: 1 },
    device: device.facts,
    overall: results.some((r) => r.status === 'fail') ? 'fail' : 'pass',
    results,
  };
}

function usbBlocked(at: Date): AgentEvent {
  return {
    schemaVersion: SCHEMA_VERSION,
    id: randomUUID(),
    occurredAt: at.toISOString(),
    type: 'usb.blocked',
    data: usbBlockedData({ serial: '4C53000', user: 'j.smith', at: at.toISOString() }),
  };
}

const postgres = await startBenchPostgres();
const loadAtStart = loadNote();
try {
  const db = await openDatabase({ kind: 'postgresql', url: postgres.url });
  try {
    const school = await ensureSchool(db, 'Bench Academy');
    const group = await ensureDeviceGroup(db, 'Pupil laptops');
    const devices = Array.from({ length: DEVICES }, (_, n) => newDevice(n));
    await db.query(
      `insert into devices (id, school_id, group_id, public_key_spki, machine_id_hash, hostname, serial, os_name, facts, enrolled_at)
       select id, $1, $2, 'bench-' || id, mid, host, serial, 'windows', facts, $7
         from unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $8::jsonb[])
           as t(id, mid, host, serial, facts)`,
      [
        school.id,
        group.id,
        devices.map((d) => d.id),
        devices.map((d) => d.facts.machineIdHash),
        devices.map((d) => d.facts.hostname),
        devices.map((d) => d.facts.serial),
        new Date(Date.now() - (DAYS + 1) * DAY),
        devices.map((d) => JSON.stringify(d.facts)),
      ],
    );
    const start = Math.floor(Date.now() / DAY) * DAY - DAYS * DAY;
    const sizes: Record<string, number>[] = [];
    let reportsSent = 0;
    let eventsSent = 0;
    const began = performance.now();
    for (let day = 0; day < DAYS; day++) {
      const dayStart = start + day * DAY;
      // The server's housekeeping makes the month partitions of check history ahead of time.
      await ensureHistoryPartitions(db, new Date(dayStart));
      const schoolDay = ![0, 6].includes(new Date(dayStart).getUTCDay());
      // One device at a time per worker; 4 workers.
      let next = 0;
      const worker = async () => {
        while (next < devices.length) {
          const device = devices[next++];
          if (device === undefined) {
            return;
          }
          const changeAt = CHECKS.map(() =>
            Math.random() < CHANGE_RATE ? Math.floor(Math.random() * REPORTS_PER_DAY) : -1,
          );
          const reports: ComplianceReport[] = [];
          const events: AgentEvent[] = [];
          for (let i = 0; i < REPORTS_PER_DAY; i++) {
            changeAt.forEach((at, c) => {
              if (at === i) {
                device.statuses[c] = device.statuses[c] === 'pass' ? 'fail' : 'pass';
              }
            });
            const at = new Date(dayStart + ((i + 0.5) * DAY) / REPORTS_PER_DAY);
            reports.push(report(device, at));
            if (schoolDay && i === Math.floor(REPORTS_PER_DAY / 2) && Math.random() < 0.2) {
              events.push(usbBlocked(at));
            }
            if (reports.length === BATCH || i === REPORTS_PER_DAY - 1) {
              const now = new Date(at.getTime() + 60_000);
              await ingestBatch(
                db,
                device.id,
                { schemaVersion: SCHEMA_VERSION, reports, events },
                now,
              );
              reportsSent += reports.length;
              eventsSent += events.length;
              reports.length = 0;
              events.length = 0;
            }
          }
        }
      };
      await Promise.all(Array.from({ length: 4 }, worker));
      const dayEnd = new Date(dayStart + DAY);
      await purgeOldReports(db, RAW_DAYS, dayEnd);
      await purgeOldHistory(db, HISTORY_DAYS, dayEnd);
      await takeDailySnapshot(db, new Date(dayStart + DAY / 2));
      await db.query(`vacuum ${TABLES.join(', ')}`);
      const rows = await db.query<{ name: string; bytes: string }>(
        // A partitioned table holds nothing itself: its size is its partitions' (a plain table
        // has no partition tree).
        `select t as name,
                coalesce((select sum(pg_total_relation_size(p.relid)) from pg_partition_tree(t::regclass) p),
                         pg_total_relation_size(t::regclass))::text as bytes
           from unnest($1::text[]) t`,
        [TABLES],
      );
      sizes.push(Object.fromEntries(rows.map((r) => [r.name, Number(r.bytes)])));
      process.stderr.write(`[storage bench] day ${String(day + 1)}/${String(DAYS)}\n`);
    }
    const seconds = (performance.now() - began) / 1000;
    const [raw] = await db.query<{ n: string; avg: string | null }>(
      'select count(*)::text as n, avg(pg_column_size(r.*))::text as avg from reports r',
    );
    const perDevice = (bytes: number) => bytes / DEVICES;
    const kb = (bytes: number) => `${(bytes / 1024).toFixed(2)} KB`;
    const last = sizes.at(-1) ?? {};
    const tenBefore = sizes.at(-11) ?? {};
    const atWindow = sizes[Math.max(RAW_DAYS, HISTORY_DAYS) - 1] ?? {};
    const total = (s: Record<string, number>) => Object.values(s).reduce((a, b) => a + b, 0);
    const lines = [
      `## Storage at steady state (\`bench/storage.bench.ts\`, ${new Date().toISOString().slice(0, 10)})`,
      '',
      `Machine: ${String(os.cpus().length)} × ${os.cpus()[0]?.model.split(' ')[0] ?? 'CPU'}, ${process.platform}, Node ${process.version}; ${loadAtStart}; ${sourceState()}; ${postgres.description}.`,
      `Simulated: ${String(DEVICES)} devices × ${String(DAYS)} days (${String(reportsSent)} reports, ${String(eventsSent)} events, ${String(REPORTS_PER_DAY)} reports a device a day in batches of ${String(BATCH)}; each check changes on ${String(CHANGE_RATE * 100)} % of device-days), in ${seconds.toFixed(0)} s. Raw reports kept ${String(RAW_DAYS)} days (news only), history and events ${String(HISTORY_DAYS)} days. Sizes are \`pg_total_relation_size\` (table + indexes + TOAST; for check_changes, of all its partitions) after a plain VACUUM at the end of each simulated day.`,
      '',
      `| table | per device, day ${String(Math.max(RAW_DAYS, HISTORY_DAYS))} | per device, day ${String(DAYS)} | **growth per device per day, last 10 days** |`,
      '| --- | --- | --- | --- |',
      ...TABLES.map(
        (t) =>
          `| ${t} | ${kb(perDevice(atWindow[t] ?? 0))} | ${kb(perDevice(last[t] ?? 0))} | ${kb(perDevice(((last[t] ?? 0) - (tenBefore[t] ?? 0)) / 10))} |`,
      ),
      `| **all of these** | ${kb(perDevice(total(atWindow)))} | ${kb(perDevice(total(last)))} | **${kb(perDevice((total(last) - total(tenBefore)) / 10))}** (goal ≤ 10 KB) |`,
      '',
      `While the windows fill, the tables gain **${kb(perDevice(total(atWindow)) / Math.max(RAW_DAYS, HISTORY_DAYS))} a device a day** (size at day ${String(Math.max(RAW_DAYS, HISTORY_DAYS))} ÷ ${String(Math.max(RAW_DAYS, HISTORY_DAYS))}, fixed per-device rows included); after them, the figure in the last column. For ${(30_000).toLocaleString('en-GB')} devices the end size is ${((perDevice(total(last)) * 30_000) / 1024 ** 2).toFixed(0)} MB; with the server's default 400 days of history, check_changes and events hold about ${(((400 / HISTORY_DAYS) * perDevice((last.check_changes ?? 0) + (last.events ?? 0))) / 1024).toFixed(0)} KB a device instead of ${kb(perDevice((last.check_changes ?? 0) + (last.events ?? 0)))} (scaled from this run, not measured).`,
      '',
      `Raw reports held at the end: ${raw?.n ?? '0'} of the ${String(reportsSent)} sent (average row ${Number(raw?.avg ?? 0).toFixed(0)} bytes). Keeping every report (\`HALLPASS_REPORT_STORAGE=all\`) would hold ${String(Math.round((reportsSent / DAYS) * RAW_DAYS))} rows in the ${String(RAW_DAYS)}-day window at this run's rate, about ${kb(((reportsSent / DAYS) * RAW_DAYS * Number(raw?.avg ?? 0)) / DEVICES)} a device before indexes (rows × the measured average row; at the agent's 96 reports a day, 4× that): **news only holds ${(Number(raw?.n ?? 0) / ((reportsSent / DAYS) * RAW_DAYS)).toFixed(4)} of those rows**.`,
    ];
    const markdown = lines.join('\n');
    process.stdout.write(markdown + '\n');
    await recordResults('storage', markdown);
  } finally {
    await db.close();
  }
} finally {
  postgres.stop();
}
