import type { Database } from '../db/db.ts';
import { dropHistoryPartitions } from './history-partitions.ts';

/** What one purge of history removed. */
export interface HistoryPurged {
  changes: number;
  events: number;
}

/**
 * Deletes check history and events the server received more than `retentionDays` ago, so a trust's
 * database stops growing once the window has passed (issue 18). Kept whatever their age: each
 * device's current state (`check_states`, with when its status began), the daily compliance
 * snapshots, and the AUP register (`aup_records`: signatures are the trust's evidence, and each
 * holds its event row by foreign key). Received time, not the device's own: an outbox emptying
 * after weeks offline keeps its events for the whole window.
 *
 * Check history is partitioned by month (migration 019): months wholly past the cutoff are
 * dropped as partitions, and only the boundary month's rows (and any in the default partition)
 * are deleted one by one. Events stay one table (see the migration), deleted by row.
 */
export async function purgeOldHistory(
  db: Database,
  retentionDays: number,
  now: Date,
): Promise<HistoryPurged> {
  const cutoff = new Date(now.getTime() - retentionDays * 86_400_000);
  const dropped = await dropHistoryPartitions(db, cutoff);
  const changes = await db.query('delete from check_changes where recorded_at < $1 returning 1', [
    cutoff,
  ]);
  const events = await db.query(
    `delete from events e where e.received_at < $1
        and not exists (select 1 from aup_records a where a.event_id = e.id)
     returning 1`,
    [cutoff],
  );
  return { changes: dropped + changes.length, events: events.length };
}
