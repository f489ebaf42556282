import type { Queryable } from '../db/db.ts';

/** A school (site) or a device group: both are a named row. */
export interface NamedRow {
  id: string;
  name: string;
}

/** Creates a school, or returns the existing one of that name. */
export async function ensureSchool(db: Queryable, name: string): Promise<NamedRow> {
  const rows = await db.query<NamedRow>(
    `insert into schools (name) values ($1) on conflict (name) do update set name = excluded.name returning id, name`,
    [name],
  );
  return firstRow(rows);
}

/** Creates a device group, or returns the existing one of that name. */
export async function ensureDeviceGroup(db: Queryable, name: string): Promise<NamedRow> {
  const rows = await db.query<NamedRow>(
    `insert into device_groups (name) values ($1) on conflict (name) do update set name = excluded.name returning id, name`,
    [name],
  );
  return firstRow(rows);
}

/** Every school, by name. */
export function listSchools(db: Queryable): Promise<NamedRow[]> {
  return db.query<NamedRow>('select id, name from schools order by name');
}

/** Every device group, by name. */
export function listDeviceGroups(db: Queryable): Promise<NamedRow[]> {
  return db.query<NamedRow>('select id, name from device_groups order by name');
}

/** Finds a school or group by id or exact name. */
export async function findNamed(
  db: Queryable,
  table: 'schools' | 'device_groups',
  idOrName: string,
): Promise<NamedRow | null> {
  const isUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(idOrName);
  const rows = await db.query<NamedRow>(
    `select id, name from ${table} where ${isUuid ? 'id = $1::uuid' : 'name = $1'}`,
    [idOrName],
  );
  return rows[0] ?? null;
}

function firstRow<T>(rows: T[]): T {
  const row = rows[0];
  if (row === undefined) {
    throw new Error('statement returned no row');
  }
  return row;
}

/** A school or device group with its active (not retired) devices counted. */
export interface CountedUnit {
  id: string;
  name: string;
  createdAt: string;
  devices: number;
}

/**
 * Every school and device group, by name, with device counts. One scan of the active devices for
 * each (as the overview's per-group counts do): the schools and groups page only, never a hot path.
 */
export async function listOrganisation(
  db: Queryable,
): Promise<{ schools: CountedUnit[]; groups: CountedUnit[] }> {
  const counted = (table: 'schools' | 'device_groups', column: 'school_id' | 'group_id') =>
    db.query<{ id: string; name: string; created_at: Date; devices: number }>(
      `select t.id, t.name, t.created_at, coalesce(c.n, 0)::int as devices
         from ${table} t
         left join (select ${column} as id, count(*)::int as n from devices
                     where retired_at is null group by ${column}) c on c.id = t.id
        order by t.name, t.id`,
    );
  const [schools, groups] = await Promise.all([
    counted('schools', 'school_id'),
    counted('device_groups', 'group_id'),
  ]);
  const shape = (row: { id: string; name: string; created_at: Date; devices: number }) => ({
    id: row.id,
    name: row.name,
    createdAt: new Date(row.created_at).toISOString(),
    devices: row.devices,
  });
  return { schools: schools.map(shape), groups: groups.map(shape) };
}
