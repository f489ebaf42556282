import { readdir, readFile } from 'node:fs/promises';
import type { Database } from './db.ts';

const folder = new URL('./migrations/', import.meta.url);

// Any constant will do; it only has to be the same for every server instance.
const MIGRATION_LOCK = 7_201_611;

/** One migration file: `NNN-name.sql`. */
interface Migration {
  version: number;
  name: string;
  sql: string;
}

async function readMigrations(): Promise<Migration[]> {
  const names = (await readdir(folder)).filter((n) => /^\d{3}-[a-z0-9-]+\.sql$/.test(n)).sort();
  return Promise.all(
    names.map(async (name) => ({
      version: Number(name.slice(0, 3)),
      name,
      sql: await readFile(new URL(name, folder), 'utf8'),
    })),
  );
}

/**
 * Applies pending migrations in order, in one transaction. Several server instances may start
 * at once against one PostgreSQL: a transaction-scoped advisory lock makes them take turns.
 * Returns the versions this call applied.
 */
export async function migrate(db: Database): Promise<number[]> {
  const migrations = await readMigrations();
  return db.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await tx.exec(
      'create table if not exists schema_migrations (version integer primary key, name text not null, applied_at timestamptz not null default now())',
    );
    const rows = await tx.query<{ version: number }>('select version from schema_migrations');
    const done = new Set(rows.map((r) => r.version));
    const applied: number[] = [];
    for (const migration of migrations.filter((m) => !done.has(m.version))) {
      await tx.exec(migration.sql);
      await tx.query('insert into schema_migrations (version, name) values ($1, $2)', [
        migration.version,
        migration.name,
      ]);
      applied.push(migration.version);
    }
    return applied;
  });
}
