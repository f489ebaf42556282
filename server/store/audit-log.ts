// The audit log of admin actions (issue 16): one row per change, written by the route in the same
// transaction as the change, so a change without its row (or a row without its change) cannot be.
// This module only inserts and reads: nothing in the application updates or deletes a row, and
// the database refuses it too (migration 011).
import type { AuditAction, AuditEntry as AuditRow } from '../../shared/index.ts';
import type { Queryable } from '../db/db.ts';
import { isoRequired } from './read-values.ts';

/** What a route records about one admin change. */
export interface AuditEntry {
  actor: { id: string; username: string };
  action: AuditAction;
  targetType: string;
  targetId: string;
  /** The target before the change; null for a creation. Never a secret. */
  before: unknown;
  /** The target after the change. */
  after: unknown;
  at: Date;
}

/** Appends one row; call it with the transaction that makes the change. */
export async function recordAudit(tx: Queryable, entry: AuditEntry): Promise<void> {
  await tx.query(
    `insert into audit_log (at, actor_id, actor, action, target_type, target_id, before, after)
     values ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      entry.at,
      entry.actor.id,
      entry.actor.username,
      entry.action,
      entry.targetType,
      entry.targetId,
      entry.before === null || entry.before === undefined ? null : JSON.stringify(entry.before),
      entry.after === null || entry.after === undefined ? null : JSON.stringify(entry.after),
    ],
  );
}

/** Filters of the audit page; each absent one lets everything through. */
export interface AuditFilter {
  action?: AuditAction;
  actor?: string;
  /** From this instant (inclusive). */
  from?: Date;
  /** Before this instant (exclusive). */
  to?: Date;
  limit: number;
}

/** Rows matching `filter`, newest first, with how many match in all and who has acted at all. */
export async function listAudit(
  db: Queryable,
  filter: AuditFilter,
): Promise<{ total: number; items: AuditRow[]; actors: string[] }> {
  const where = `where ($1::text is null or action = $1)
      and ($2::text is null or actor = $2)
      and ($3::timestamptz is null or at >= $3)
      and ($4::timestamptz is null or at < $4)`;
  const params = [
    filter.action ?? null,
    filter.actor ?? null,
    filter.from ?? null,
    filter.to ?? null,
  ];
  const [rows, counts, actors] = await Promise.all([
    db.query<{
      id: string;
      at: Date;
      actor: string;
      action: string;
      target_type: string;
      target_id: string;
      before: unknown;
      after: unknown;
    }>(
      `select id::text as id, at, actor, action, target_type, target_id, before, after
         from audit_log ${where}
        order by audit_log.at desc, audit_log.id desc limit $5`,
      [...params, filter.limit],
    ),
    db.query<{ n: number }>(`select count(*)::int as n from audit_log ${where}`, params),
    db.query<{ actor: string }>('select distinct actor from audit_log order by actor'),
  ]);
  return {
    total: counts[0]?.n ?? 0,
    actors: actors.map((row) => row.actor),
    items: rows.map((row) => ({
      id: row.id,
      at: isoRequired(row.at),
      actor: row.actor,
      action: row.action,
      targetType: row.target_type,
      targetId: row.target_id,
      before: row.before,
      after: row.after,
    })),
  };
}
