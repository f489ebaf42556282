// Admin writes of the ICT API that the existing stores do not cover: named rows that must be new.
import type { Queryable } from '../db/db.ts';
import type { NamedRow } from './organisation.ts';

/** Creates a school or device group; null when one of that name exists already. */
export async function createNamed(
  db: Queryable,
  table: 'schools' | 'device_groups',
  name: string,
): Promise<NamedRow | null> {
  const rows = await db.query<NamedRow>(
    `insert into ${table} (name) values ($1) on conflict (name) do nothing returning id, name`,
    [name],
  );
  return rows[0] ?? null;
}

/** True when a school or device group with this id exists. */
export async function namedExists(
  db: Queryable,
  table: 'schools' | 'device_groups',
  id: string,
): Promise<boolean> {
  const rows = await db.query(`select 1 from ${table} where id = $1`, [id]);
  return rows.length > 0;
}

/** A school or device group as its row stands, for the audit log. */
export interface NamedState {
  id: string;
  name: string;
}

/**
 * Renames a school or device group inside the caller's transaction: null when there is no such
 * row; `changed` false when it already has that name. A name another row has raises PostgreSQL's
 * unique violation (23505), which the caller answers as 409 once the transaction has rolled back.
 */
export async function renameNamed(
  tx: Queryable,
  table: 'schools' | 'device_groups',
  id: string,
  name: string,
): Promise<{ before: NamedState; after: NamedState; changed: boolean } | null> {
  // The row lock also orders a rename after a policy upload of the same group (uploadPolicy).
  const rows = await tx.query<NamedState>(
    `select id, name from ${table} where id = $1 for update`,
    [id],
  );
  const before = rows[0];
  if (before === undefined) {
    return null;
  }
  if (before.name === name) {
    return { before, after: before, changed: false };
  }
  await tx.query(`update ${table} set name = $2 where id = $1`, [id, name]);
  return { before, after: { id, name }, changed: true };
}

/** True for PostgreSQL's unique violation (a name another row already has). */
export function isUniqueViolation(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505'
  );
}

/** One AUP rule, in a group's current policy, that names a device group. */
export interface AupRuleNaming {
  groupId: string;
  group: string;
  ruleId: string;
}

/**
 * Device-group names compare as the agent compares them (agent/core/aup/role.ts): ignoring case,
 * not accents. Devices match AUP rules by the group's *name*, so a renamed group needs its
 * policies' rules renamed too.
 */
const sameGroupName = (a: string, b: string) =>
  a.localeCompare(b, 'en', { sensitivity: 'accent' }) === 0;

/**
 * The AUP rules in every group's current policy that name device group `oldName` and not
 * `newName`: after a rename they no longer match the renamed group's devices.
 */
export async function aupRulesNamingOnly(
  db: Queryable,
  oldName: string,
  newName: string,
): Promise<AupRuleNaming[]> {
  const rows = await db.query<{ group_id: string; group: string; rules: unknown }>(
    `select distinct on (p.group_id) p.group_id, g.name as "group", p.document->'aup'->'rules' as rules
       from policies p join device_groups g on g.id = p.group_id
      order by p.group_id, p.version desc`,
  );
  const found: AupRuleNaming[] = [];
  for (const row of rows) {
    const rules = Array.isArray(row.rules)
      ? (row.rules as { id?: unknown; deviceGroups?: unknown }[])
      : [];
    for (const rule of rules) {
      const names = Array.isArray(rule.deviceGroups)
        ? rule.deviceGroups.filter((n): n is string => typeof n === 'string')
        : [];
      if (
        names.some((n) => sameGroupName(n, oldName)) &&
        !names.some((n) => sameGroupName(n, newName))
      ) {
        found.push({ groupId: row.group_id, group: row.group, ruleId: String(rule.id) });
      }
    }
  }
  return found.sort((a, b) => a.group.localeCompare(b.group) || a.ruleId.localeCompare(b.ruleId));
}
