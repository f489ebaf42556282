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
