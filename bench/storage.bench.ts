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
// server's default is 400) so that the run passes both windows.
//
// AUP signatures (`aup.accepted`, the example policy's pupil AUP, built and checked against the
// event schema as the agent sends them): each device's user signs on the device's first simulated
// day, again on the first school day of September (the policy's annual re-sign), and again within
// five school days of a new document version published halfway through the run; on school days
// 2 % of devices see a new user sign (shared classroom PCs). The server keeps AUP events and their
// register rows whatever their age, so these grow for ever, by design.
//
// Writes bench/RESULTS.md: section `storage`, or `storage-year` (with sizes at each month's end)
// when the run covers 365 days or more, so a year's run keeps the shorter run's section beside it.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import {
  AgentEventSchema,
  SCHEMA_VERSION,
  describeProblems,
  validate,
  type AgentEvent,
  type CheckResult,
  type CheckStatus,
  type ComplianceReport,
  type DeviceFacts,
} from '../shared/index.ts';
import { readPolicyFile } from '../agent/core/policy/policy-file.ts';
import { openDatabase } from '../server/db/open-database.ts';
import { ensureHistoryPartitions } from '../server/store/history-partitions.ts';
import { purgeOldHistory } from '../server/store/history-retention.ts';
import { ingestBatch, purgeOldReports } from '../server/store/ingest.ts';
import { takeDailySnapshot } from '../server/store/compliance-snapshots.ts';
import { ensureDeviceGroup, ensureSchool } from '../server/store/organisation.ts';
import { aupAccepted, type AupDoc } from '../test/helpers/aup-sample.ts';
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
  // The AUP register: one row per signature, kept whatever its age (as are its events).
  'aup_records',
  // One row per event naming a user (subject access, migration 021): grows with events.
  'person_events',
] as const;

const NEW_USER_RATE = 0.02;
const YEAR_RUN = DAYS >= 365;

interface SimDevice {
  id: string;
  facts: DeviceFacts;
  statuses: CheckStatus[];
  /** The device's usual user, and how many other users have signed on it. */
  user: string;
  visitors: number;
  /** Which of the five school days after the new version this device's user signs it. */
  resignSlot: number;
}

function newDevice(n: number): SimDevice {
  return {
    id: randomUUID(),
    facts: simulatedFacts(n),
    statuses: CHECKS.map(() => (Math.random() < 0.9 ? 'pass' : 'fail')),
    user: `pupil${String(n)}`,
    visitors: 0,
    resignSlot: Math.floor(Math.random() * 5),
  };
}

/** The AUP event as the agent sends it; a bench that builds one the server would refuse stops. */
function signed(doc: AupDoc, user: string, at: Date): AgentEvent {
  const event = aupAccepted(doc, { user, at, fullName: `Pupil ${user}` });
  const checked = validate(AgentEventSchema, event);
  if (!checked.ok) {
    throw new Error(`bench AUP event fails the schema: ${describeProblems(checked.problems)}`);
  }
  return event;
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
    const policy = await readPolicyFile(
      new URL('../agent/core/policy/example-policy.yaml', import.meta.url).pathname,
    );
    const firstDoc = policy.aup.documents.find((d) => d.role === 'pupil' && d.kind === 'aup');
    if (firstDoc === undefined) {
      throw new Error('the example policy has no pupil AUP');
    }
    // The new version published halfway through: its text changes with it, as ICT publishes one.
    const secondDoc: AupDoc = {
      ...firstDoc,
      version: `${firstDoc.version}-b`,
      statements: [...firstDoc.statements, 'I will look after the school laptop I borrow.'],
    };
    const newVersionDay = Math.floor(DAYS / 2);
    let schoolDaysSinceNewVersion = -1;
    let septemberSigned = false;
    let aupSent = 0;
    const sizes: Record<string, number>[] = [];
    /** Each simulated month's last day: its month and its index in `sizes`. */
    const monthEnds: { month: string; day: number }[] = [];
    let reportsSent = 0;
    let eventsSent = 0;
    const began = performance.now();
    for (let day = 0; day < DAYS; day++) {
      const dayStart = start + day * DAY;
      // The server's housekeeping makes the month partitions of check history ahead of time.
      await ensureHistoryPartitions(db, new Date(dayStart));
      const schoolDay = ![0, 6].includes(new Date(dayStart).getUTCDay());
      const doc = day >= newVersionDay ? secondDoc : firstDoc;
      if (day === newVersionDay) {
        schoolDaysSinceNewVersion = 0;
      }
      // The annual re-sign: the first school day of September, once a run.
      const septemberDay = schoolDay && new Date(dayStart).getUTCMonth() === 8 && !septemberSigned;
      if (septemberDay) {
        septemberSigned = true;
      }
      const resignSlot =
        schoolDay && schoolDaysSinceNewVersion >= 0 && schoolDaysSinceNewVersion < 5
          ? schoolDaysSinceNewVersion
          : -1;
      if (schoolDay && schoolDaysSinceNewVersion >= 0) {
        schoolDaysSinceNewVersion++;
      }
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
          // The morning's first login signs, when a signature is due.
          const signs: string[] = [];
          if (day === 0 || septemberDay || device.resignSlot === resignSlot) {
            signs.push(device.user);
          }
          if (day > 0 && schoolDay && Math.random() < NEW_USER_RATE) {
            device.visitors++;
            signs.push(`${device.user}-v${String(device.visitors)}`);
          }
          for (let i = 0; i < REPORTS_PER_DAY; i++) {
            changeAt.forEach((at, c) => {
              if (at === i) {
                device.statuses[c] = device.statuses[c] === 'pass' ? 'fail' : 'pass';
              }
            });
            const at = new Date(dayStart + ((i + 0.5) * DAY) / REPORTS_PER_DAY);
            reports.push(report(device, at));
            if (i === 0) {
              for (const user of signs) {
                events.push(signed(doc, user, at));
                aupSent++;
              }
            }
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
      if (new Date(dayStart + DAY).getUTCMonth() !== new Date(dayStart).getUTCMonth()) {
        monthEnds.push({ month: new Date(dayStart).toISOString().slice(0, 7), day });
      }
      process.stderr.write(`[storage bench] day ${String(day + 1)}/${String(DAYS)}\n`);
    }
    const seconds = (performance.now() - began) / 1000;
    if (monthEnds.at(-1)?.day !== DAYS - 1) {
      // The run's last day, part way through its month.
      monthEnds.push({
        month: `${new Date(start + (DAYS - 1) * DAY).toISOString().slice(0, 10)} (last day)`,
        day: DAYS - 1,
      });
    }
    const [raw] = await db.query<{ n: string; avg: string | null }>(
      'select count(*)::text as n, avg(pg_column_size(r.*))::text as avg from reports r',
    );
    const [aup] = await db.query<{ records: string; seen: string; person: string; events: string }>(
      `select (select count(*) from aup_records)::text as records,
              (select count(*) from aup_seen_users)::text as seen,
              (select count(*) from person_events)::text as person,
              (select count(*) from events where type = 'aup.accepted')::text as events`,
    );
    const perDevice = (bytes: number) => bytes / DEVICES;
    const kb = (bytes: number) => `${(bytes / 1024).toFixed(2)} KB`;
    const last = sizes.at(-1) ?? {};
    const tenBefore = sizes.at(-11) ?? {};
    const atWindow = sizes[Math.max(RAW_DAYS, HISTORY_DAYS) - 1] ?? {};
    const total = (s: Record<string, number>) => Object.values(s).reduce((a, b) => a + b, 0);
    const lines = [
      `## ${YEAR_RUN ? 'Storage over a simulated year' : 'Storage at steady state'} (\`bench/storage.bench.ts\`, ${new Date().toISOString().slice(0, 10)})`,
      '',
      `Machine: ${String(os.cpus().length)} × ${os.cpus()[0]?.model.split(' ')[0] ?? 'CPU'}, ${process.platform}, Node ${process.version}; ${loadAtStart}; ${sourceState()}; ${postgres.description}.`,
      `Simulated: ${String(DEVICES)} devices × ${String(DAYS)} days (${String(reportsSent)} reports, ${String(eventsSent)} events of which ${String(aupSent)} AUP signatures, ${String(REPORTS_PER_DAY)} reports a device a day in batches of ${String(BATCH)}; each check changes on ${String(CHANGE_RATE * 100)} % of device-days), in ${seconds.toFixed(0)} s. Raw reports kept ${String(RAW_DAYS)} days (news only), history and events ${String(HISTORY_DAYS)} days. Sizes are \`pg_total_relation_size\` (table + indexes + TOAST; for check_changes, of all its partitions) after a plain VACUUM at the end of each simulated day.`,
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
      ...(YEAR_RUN
        ? [
            `Total of these tables at the end of each simulated month (AUP signatures: every device's user on day 1, again on the first school day of September, again within five school days of the new version on day ${String(newVersionDay + 1)}; ${String(NEW_USER_RATE * 100)} % of devices a new user on each school day):`,
            '',
            '| month | day | all tables, per device | check_changes | events | aup_records | person_events |',
            '| --- | --- | --- | --- | --- | --- | --- |',
            ...monthEnds.map(({ month, day }) => {
              const s = sizes[day] ?? {};
              return `| ${month} | ${String(day + 1)} | ${kb(perDevice(total(s)))} | ${kb(perDevice(s.check_changes ?? 0))} | ${kb(perDevice(s.events ?? 0))} | ${kb(perDevice(s.aup_records ?? 0))} | ${kb(perDevice(s.person_events ?? 0))} |`;
            }),
          ]
        : []),
      '',
      `AUP rows at the end: ${aup?.records ?? '0'} in aup_records and ${aup?.events ?? '0'} aup.accepted events (of ${String(aupSent)} signatures sent), ${aup?.seen ?? '0'} users in aup_seen_users, ${aup?.person ?? '0'} rows in person_events.`,
      '',
      `Raw reports held at the end: ${raw?.n ?? '0'} of the ${String(reportsSent)} sent (average row ${Number(raw?.avg ?? 0).toFixed(0)} bytes). Keeping every report (\`HALLPASS_REPORT_STORAGE=all\`) would hold ${String(Math.round((reportsSent / DAYS) * RAW_DAYS))} rows in the ${String(RAW_DAYS)}-day window at this run's rate, about ${kb(((reportsSent / DAYS) * RAW_DAYS * Number(raw?.avg ?? 0)) / DEVICES)} a device before indexes (rows × the measured average row; at the agent's 96 reports a day, 4× that): **news only holds ${(Number(raw?.n ?? 0) / ((reportsSent / DAYS) * RAW_DAYS)).toFixed(4)} of those rows**.`,
    ];
    const markdown = lines.join('\n');
    process.stdout.write(markdown + '\n');
    await recordResults(YEAR_RUN ? 'storage-year' : 'storage', markdown);
  } finally {
    await db.close();
  }
} finally {
  postgres.stop();
}
