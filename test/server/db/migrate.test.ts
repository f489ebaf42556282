import { readdirSync } from 'node:fs';
import { expect, it } from 'vitest';
import { openPostgres } from '../../../server/db/postgres.ts';
import { migrate } from '../../../server/db/migrate.ts';
import { describeEachEngine } from '../../helpers/databases.ts';

/** Versions of every migration file, as the migrator reads them. */
const versions = readdirSync(new URL('../../../server/db/migrations/', import.meta.url))
  .filter((name) => /^\d{3}-[a-z0-9-]+\.sql$/.test(name))
  .map((name) => Number(name.slice(0, 3)))
  .sort((a, b) => a - b);

describeEachEngine('migrations', (engine) => {
  it('apply once, and a second run applies nothing', async () => {
    const db = await engine.open();
    try {
      const rows = await db.query<{ version: number }>('select version from schema_migrations');
      expect(rows.map((r) => r.version)).toEqual(versions);
      expect(versions[0]).toBe(1);
      expect(await migrate(db)).toEqual([]);
      const tables = await db.query<{ table_name: string }>(
        "select table_name from information_schema.tables where table_schema = 'public' order by 1",
      );
      expect(tables.map((t) => t.table_name)).toEqual(
        expect.arrayContaining([
          'devices',
          'check_states',
          'check_changes',
          'events',
          'seen_nonces',
        ]),
      );
    } finally {
      await db.close();
    }
  });

  it('two server instances migrating one fresh database at once take turns', async () => {
    // A database with no schema at all, as at a trust's first start-up: both migrators find
    // every migration pending, and without the lock both would apply them.
    const db = await engine.openEmpty();
    try {
      // PGlite is one process's embedded database, so both run on one handle (PGlite queues
      // them); PostgreSQL gets a second pool, as a second server instance would have.
      const second = db.url === null ? db : openPostgres(db.url);
      try {
        const results = await Promise.all([migrate(db), migrate(second)]);
        // One applied everything, in order; the other found nothing left to do.
        expect([...results].sort((a, b) => b.length - a.length)).toEqual([versions, []]);
        const rows = await db.query<{ version: number }>(
          'select version from schema_migrations order by version',
        );
        expect(rows.map((r) => r.version)).toEqual(versions);
      } finally {
        if (second !== db) {
          await second.close();
        }
      }
    } finally {
      await db.close();
    }
  });
});
