// Monthly partitions of check history (migration 019). Every server instance runs housekeeping
// (server/main.ts), so two may make or drop the same partition at once: both jobs take one
// transaction-scoped advisory lock and look again under it, so the later one finds the work done.
import type { Database, Queryable } from '../db/db.ts';

// Any constant: the first half of the two-integer advisory lock key, so these locks never meet
// the migration's, the sign-in throttle's, the snapshot's or the alert job's.
const PARTITION_LOCK_SPACE = 0x68697374; // "hist"

/** How many months past this one always have their partition ready. */
export const MONTHS_AHEAD = 2;

// A partition's DDL waits at most this long for ingest and readers to let go of the table; past
// it, the run fails and the next one (a minute later) tries again, rather than queueing every
// ingest behind a lock that is itself waiting.
const DDL_LOCK_TIMEOUT = '5s';

const NAME = /^check_changes_y(\d{4})m(\d{2})$/;

/** The first instant (UTC) of the month `months` after the one `at` is in. */
function monthStart(at: Date, months = 0): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + months, 1));
}

/** The partition of the UTC month starting at `start`: check_changes_yYYYYmMM. */
export function partitionName(start: Date): string {
  const month = String(start.getUTCMonth() + 1).padStart(2, '0');
  return `check_changes_y${String(start.getUTCFullYear())}m${month}`;
}

/** A bound literal PostgreSQL reads the same whatever the session's time zone. */
const bound = (at: Date): string => `'${at.toISOString()}'`;

/** The month partitions that exist, by name, with their UTC ranges. */
async function monthPartitions(db: Queryable): Promise<{ name: string; from: Date; to: Date }[]> {
  const rows = await db.query<{ name: string }>(
    `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'check_changes'::regclass order by 1`,
  );
  return rows.flatMap(({ name }) => {
    const match = NAME.exec(name);
    if (match?.[1] === undefined || match[2] === undefined) {
      return [];
    }
    const from = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, 1));
    return [{ name, from, to: monthStart(from, 1) }];
  });
}

/** The months that need a partition: this one, the next ones, and any the default holds rows of. */
async function monthsWanted(db: Queryable, now: Date): Promise<Date[]> {
  const inDefault = await db.query<{ month: Date }>(
    `select distinct date_trunc('month', recorded_at at time zone 'UTC') at time zone 'UTC' as month
       from check_changes_default`,
  );
  const months = [
    ...Array.from({ length: MONTHS_AHEAD + 1 }, (_, n) => monthStart(now, n)),
    ...inDefault.map((r) => new Date(r.month)),
  ];
  return [...new Map(months.map((m) => [m.getTime(), m])).values()];
}

async function missingMonths(db: Queryable, now: Date): Promise<Date[]> {
  const have = new Set((await monthPartitions(db)).map((p) => p.name));
  return (await monthsWanted(db, now)).filter((m) => !have.has(partitionName(m)));
}

/**
 * Makes the partitions of this month and the next {@link MONTHS_AHEAD}, and of any month the
 * default partition holds rows of (their rows move into it). Returns the names it made.
 */
export async function ensureHistoryPartitions(db: Database, now: Date): Promise<string[]> {
  // Lock-free on every run but the few a month that have something to make.
  if ((await missingMonths(db, now)).length === 0) {
    return [];
  }
  return db.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1, 0)', [PARTITION_LOCK_SPACE]);
    await tx.query(`set local lock_timeout = '${DDL_LOCK_TIMEOUT}'`);
    // ATTACH takes this lock on the default partition anyway; taken first, no ingest can put a
    // row of the new month there between the move and the attach. Ingest waits on it only for a
    // row headed to the default; a read of every month waits the moment it is held.
    await tx.exec('lock table check_changes_default in access exclusive mode');
    const made: string[] = [];
    for (const from of await missingMonths(tx, now)) {
      const name = partitionName(from);
      const to = monthStart(from, 1);
      // PostgreSQL refuses a partition whose range has rows in the default, so they move first:
      // into a plain table, which is then attached. ATTACH (unlike CREATE … PARTITION OF) needs
      // only a SHARE UPDATE EXCLUSIVE lock on check_changes, so ingest goes on meanwhile.
      await tx.exec(`create table ${name} (like check_changes including defaults)`);
      await tx.query(
        `with moved as (
           delete from check_changes_default where recorded_at >= $1 and recorded_at < $2
           returning *
         )
         insert into ${name} select * from moved`,
        [from, to],
      );
      await tx.exec(
        `alter table check_changes attach partition ${name}
           for values from (${bound(from)}) to (${bound(to)})`,
      );
      made.push(name);
    }
    return made;
  });
}

/**
 * Drops the partitions of months wholly received before `cutoff`; returns how many rows they
 * held. Rows of the boundary month (and any in the default) are the caller's to delete.
 */
export async function dropHistoryPartitions(db: Database, cutoff: Date): Promise<number> {
  const old = (p: { to: Date }) => p.to.getTime() <= cutoff.getTime();
  // Lock-free on every run but the one a month that has a partition to drop.
  if (!(await monthPartitions(db)).some(old)) {
    return 0;
  }
  return db.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1, 0)', [PARTITION_LOCK_SPACE]);
    await tx.query(`set local lock_timeout = '${DDL_LOCK_TIMEOUT}'`);
    let rows = 0;
    for (const { name } of (await monthPartitions(tx)).filter(old)) {
      // Counted for the housekeeping log, as the row-by-row purge reported them: one read of a
      // month that is about to go, once a month.
      const [count] = await tx.query<{ n: string }>(`select count(*)::text as n from ${name}`);
      rows += Number(count?.n ?? 0);
      // Not DETACH … CONCURRENTLY: it cannot run in a transaction, nor on a table with a default
      // partition. The lock on check_changes is held from here to the commit, a moment.
      await tx.exec(`alter table check_changes detach partition ${name}`);
      await tx.exec(`drop table ${name}`);
    }
    return rows;
  });
}
