// Check history partitioned by month (migration 019): housekeeping makes partitions ahead, moves
// rows out of the default partition, and retention drops whole months (issue 18).
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../../../shared/index.ts';
import type { Database, Queryable } from '../../../server/db/db.ts';
import { migrate } from '../../../server/db/migrate.ts';
import { openPostgres } from '../../../server/db/postgres.ts';
import { chaseList } from '../../../server/store/chase-list.ts';
import { ensureHistoryPartitions } from '../../../server/store/history-partitions.ts';
import { purgeOldHistory } from '../../../server/store/history-retention.ts';
import { ingestBatch } from '../../../server/store/ingest.ts';
import { describeEachEngine, type Engine } from '../../helpers/databases.ts';
import { report, result, sampleFacts } from '../../helpers/device-client.ts';

const DAY = 86_400_000;
const at = (iso: string) => new Date(iso);

/** A device of its own, enrolled with SQL. */
async function newDevice(db: Queryable): Promise<string> {
  const [row] = await db.query<{ id: string }>(
    `with s as (insert into schools (name) values (gen_random_uuid()::text) returning id),
          g as (insert into device_groups (name) values (gen_random_uuid()::text) returning id)
     insert into devices (school_id, group_id, public_key_spki, hostname, os_name, facts)
     select s.id, g.id, gen_random_uuid()::text, 'lt-1', 'linux', '{}' from s, g returning id`,
  );
  if (row === undefined) {
    throw new Error('no device');
  }
  return row.id;
}

/** Ingests one firewall result measured and received at `when`: a change when the status does. */
async function ingestAt(db: Queryable, deviceId: string, status: 'pass' | 'fail', when: Date) {
  const facts = sampleFacts();
  await ingestBatch(
    db,
    deviceId,
    {
      schemaVersion: SCHEMA_VERSION,
      reports: [report(facts, [result('firewall', status, when)], when)],
      events: [],
    },
    when,
  );
}

/** Names of check_changes' partitions. */
async function partitions(db: Queryable): Promise<string[]> {
  const rows = await db.query<{ name: string }>(
    `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'check_changes'::regclass order by 1`,
  );
  return rows.map((r) => r.name);
}

/** Each of the device's history rows: when received, and which partition holds it. */
async function rowsOf(db: Queryable, deviceId: string) {
  return db.query<{ recorded_at: Date; partition: string }>(
    `select recorded_at, tableoid::regclass::text as partition from check_changes
      where device_id = $1 order by recorded_at`,
    [deviceId],
  );
}

/** A second handle on the same database, as a second server instance would have. */
function secondInstance(db: Database & { url: string | null }): Database {
  // PGlite is one process's embedded database: both run on one handle, which queues them.
  return db.url === null ? db : openPostgres(db.url);
}

async function closeSecond(db: Database, second: Database) {
  if (second !== db) {
    await second.close();
  }
}

describeEachEngine('history partitions', (engine: Engine) => {
  let db: Database & { url: string | null };
  beforeAll(async () => {
    db = await engine.open();
  });
  afterAll(() => db.close());

  it('housekeeping makes the partitions of this month and the next two, once', async () => {
    const made = await ensureHistoryPartitions(db, at('2030-05-15T10:00:00Z'));
    expect(made).toEqual([
      'check_changes_y2030m05',
      'check_changes_y2030m06',
      'check_changes_y2030m07',
    ]);
    expect(await partitions(db)).toEqual(
      expect.arrayContaining([...made, 'check_changes_default']),
    );
    expect(await ensureHistoryPartitions(db, at('2030-05-31T23:59:00Z'))).toEqual([]);
    // The months are UTC months: one millisecond into June is June's.
    expect(await ensureHistoryPartitions(db, at('2030-06-01T00:00:00.001Z'))).toEqual([
      'check_changes_y2030m08',
    ]);
  });

  it('a row for a month without a partition lands in the default and moves when it is made', async () => {
    const device = await newDevice(db);
    await ingestAt(db, device, 'fail', at('2031-03-10T08:00:00Z'));
    await ingestAt(db, device, 'pass', at('2031-03-11T08:00:00Z'));
    const early = await newDevice(db);
    await ingestAt(db, early, 'fail', at('2029-02-10T08:00:00Z'));
    expect((await rowsOf(db, device)).map((r) => r.partition)).toEqual([
      'check_changes_default',
      'check_changes_default',
    ]);
    expect((await rowsOf(db, early)).map((r) => r.partition)).toEqual(['check_changes_default']);
    // January 2031 and two months ahead cover March; the default's row of February 2029 makes
    // that month's partition too.
    expect((await ensureHistoryPartitions(db, at('2031-01-05T00:00:00Z'))).sort()).toEqual([
      'check_changes_y2029m02',
      'check_changes_y2031m01',
      'check_changes_y2031m02',
      'check_changes_y2031m03',
    ]);
    expect((await rowsOf(db, device)).map((r) => r.partition)).toEqual([
      'check_changes_y2031m03',
      'check_changes_y2031m03',
    ]);
    expect((await rowsOf(db, early)).map((r) => r.partition)).toEqual(['check_changes_y2029m02']);
    const [left] = await db.query<{ n: number }>(
      'select count(*)::int as n from check_changes_default',
    );
    expect(left?.n).toBe(0);
    // A moved partition has the table's indexes and foreign key, as one made ahead has.
    const indexes = await db.query<{ n: number }>(
      `select count(*)::int as n from pg_index where indrelid = 'check_changes_y2031m03'::regclass`,
    );
    const ahead = await db.query<{ n: number }>(
      `select count(*)::int as n from pg_index where indrelid = 'check_changes_y2031m01'::regclass`,
    );
    expect(indexes[0]?.n).toBe(ahead[0]?.n);
    await expect(
      db.query(
        `insert into check_changes (device_id, check_id, to_status, summary, measured_at, recorded_at)
         values (gen_random_uuid(), 'firewall', 'fail', 'x', now(), '2031-03-12T00:00:00Z')`,
      ),
    ).rejects.toThrow(/foreign key/);
  });

  it('ingest writes history to this month, and the chase list says since when a check fails', async () => {
    const device = await newDevice(db);
    const now = Date.now();
    const firstFail = new Date(now - 3 * DAY);
    const passed = new Date(now - 2 * DAY);
    const failedAgain = new Date(now - DAY);
    await ingestAt(db, device, 'fail', firstFail);
    await ingestAt(db, device, 'pass', passed);
    await ingestAt(db, device, 'fail', failedAgain);
    const rows = await rowsOf(db, device);
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      const month = row.recorded_at.toISOString().slice(0, 7).replace('-', 'm');
      expect(row.partition).toBe(`check_changes_y${month}`);
    }
    const list = await chaseList(db, { limit: 5000 });
    const item = list.items.find((i) => i.id === device);
    expect(item?.failing).toEqual([{ checkId: 'firewall', since: failedAgain.toISOString() }]);
  });

  it('two housekeeping runs at once both finish, and make each partition once', async () => {
    const second = secondInstance(db);
    try {
      const when = at('2033-07-01T00:00:00Z');
      const made = await Promise.all([
        ensureHistoryPartitions(db, when),
        ensureHistoryPartitions(second, when),
      ]);
      expect(made.flat().sort()).toEqual([
        'check_changes_y2033m07',
        'check_changes_y2033m08',
        'check_changes_y2033m09',
      ]);
      const device = await newDevice(db);
      await ingestAt(db, device, 'fail', at('2033-07-02T00:00:00Z'));
      await ingestAt(db, device, 'pass', at('2033-08-02T00:00:00Z'));
      // A cutoff past July and every earlier month: both purges run, the months go once.
      const purged = await Promise.all([
        purgeOldHistory(db, 1, at('2033-08-03T00:00:00Z')),
        purgeOldHistory(second, 1, at('2033-08-03T00:00:00Z')),
      ]);
      expect(purged.every((p) => p.events === 0)).toBe(true);
      expect((await rowsOf(db, device)).map((r) => r.partition)).toEqual([
        'check_changes_y2033m08',
      ]);
      expect(await partitions(db)).toEqual([
        'check_changes_default',
        'check_changes_y2033m08',
        'check_changes_y2033m09',
      ]);
    } finally {
      await closeSecond(db, second);
    }
  });
});

describeEachEngine('history retention by partition', (engine: Engine) => {
  it('drops months wholly past the cutoff and deletes only the older rows of the boundary month', async () => {
    const db = await engine.open();
    try {
      const device = await newDevice(db);
      await ensureHistoryPartitions(db, at('2032-01-01T00:00:00Z'));
      await ensureHistoryPartitions(db, at('2032-02-01T00:00:00Z'));
      const received = [
        '2032-01-10T00:00:00Z',
        '2032-02-10T00:00:00Z',
        '2032-03-05T00:00:00Z',
        '2032-03-20T00:00:00Z',
        '2032-04-02T00:00:00Z',
      ];
      for (const [n, when] of received.entries()) {
        await ingestAt(db, device, n % 2 === 0 ? 'fail' : 'pass', at(when));
      }
      expect((await rowsOf(db, device)).map((r) => r.partition)).toEqual([
        'check_changes_y2032m01',
        'check_changes_y2032m02',
        'check_changes_y2032m03',
        'check_changes_y2032m03',
        'check_changes_y2032m04',
      ]);
      // Ten days before 2032-03-25: the cutoff is 2032-03-15, inside March.
      const purged = await purgeOldHistory(db, 10, at('2032-03-25T00:00:00Z'));
      expect(purged).toEqual({ changes: 3, events: 0 });
      expect((await rowsOf(db, device)).map((r) => r.recorded_at.toISOString())).toEqual([
        '2032-03-20T00:00:00.000Z',
        '2032-04-02T00:00:00.000Z',
      ]);
      // January and February are gone as tables, and every month the migration made before them.
      expect(await partitions(db)).toEqual([
        'check_changes_default',
        'check_changes_y2032m03',
        'check_changes_y2032m04',
      ]);
      const [gone] = await db.query<{ n: number }>(
        "select count(*)::int as n from pg_class where relname in ('check_changes_y2032m01', 'check_changes_y2032m02')",
      );
      expect(gone?.n).toBe(0);
      expect(await purgeOldHistory(db, 10, at('2032-03-25T00:00:00Z'))).toEqual({
        changes: 0,
        events: 0,
      });
    } finally {
      await db.close();
    }
  });
});

const folder = new URL('../../../server/db/migrations/', import.meta.url);
const before019 = readdirSync(folder)
  .filter((name) => /^\d{3}-[a-z0-9-]+\.sql$/.test(name) && Number(name.slice(0, 3)) < 19)
  .sort();

describeEachEngine('migration 019 (history partitions)', (engine: Engine) => {
  it('moves the history already stored into its months, ids and indexes kept', async () => {
    const db = await engine.openEmpty();
    try {
      await db.exec(
        'create table schema_migrations (version integer primary key, name text not null, applied_at timestamptz not null default now())',
      );
      for (const name of before019) {
        await db.exec(readFileSync(new URL(name, folder), 'utf8'));
        await db.query('insert into schema_migrations (version, name) values ($1, $2)', [
          Number(name.slice(0, 3)),
          name,
        ]);
      }
      const device = await newDevice(db);
      for (const when of ['2025-11-30T23:59:59Z', '2025-12-01T00:00:00Z', '2026-03-15T12:00:00Z']) {
        await db.query(
          `insert into check_changes (device_id, check_id, from_status, to_status, summary, measured_at, recorded_at)
           values ($1, 'firewall', 'pass', 'fail', 'x', $2, $2)`,
          [device, when],
        );
      }
      const before = await db.query<{ id: string }>(
        'select id::text from check_changes order by id',
      );
      // 019 and any later migration (020 adds devices.report_digest, which ingest writes).
      expect(await migrate(db)).toContain(19);
      const after = await db.query<{ id: string; partition: string }>(
        'select id::text, tableoid::regclass::text as partition from check_changes order by id',
      );
      expect(after.map((r) => r.id)).toEqual(before.map((r) => r.id));
      expect(after.map((r) => r.partition)).toEqual([
        'check_changes_y2025m11',
        'check_changes_y2025m12',
        'check_changes_y2026m03',
      ]);
      // New rows go on from the same sequence.
      await ingestAt(db, device, 'pass', new Date());
      const [newest] = await db.query<{ id: string }>(
        'select max(id)::text as id from check_changes',
      );
      expect(BigInt(newest?.id ?? '0')).toBeGreaterThan(BigInt(before.at(-1)?.id ?? '0'));
      const indexes = await db.query<{ name: string }>(
        "select indexname as name from pg_indexes where tablename = 'check_changes' order by 1",
      );
      expect(indexes.map((i) => i.name)).toEqual(
        expect.arrayContaining([
          'check_changes_device',
          'check_changes_pkey',
          'check_changes_recorded',
        ]),
      );
    } finally {
      await db.close();
    }
  });
});
