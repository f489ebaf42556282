import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openPostgres } from '../../../server/db/postgres.ts';
import { migrate } from '../../../server/db/migrate.ts';
import { testEngines } from '../../helpers/databases.ts';

/** Versions of every migration file, as the migrator reads them. */
const versions = readdirSync(new URL('../../../server/db/migrations/', import.meta.url))
  .filter((name) => /^\d{3}-[a-z0-9-]+\.sql$/.test(name))
  .map((name) => Number(name.slice(0, 3)))
  .sort((a, b) => a - b);

describe.each(testEngines)('migrations on $name', (engine) => {
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

  it('two server instances migrating one database at once take turns', async () => {
    const db = await engine.open();
    try {
      if (db.url === null) {
        // PGlite is one process's embedded database: only one server can open it.
        expect(await Promise.all([migrate(db), migrate(db)])).toEqual([[], []]);
        return;
      }
      await db.exec(
        'drop table check_changes, check_states, reports, report_receipts, events, seen_nonces, sessions, login_failures, policies, devices, enrolment_tokens, users, device_groups, schools, schema_migrations',
      );
      const second = openPostgres(db.url);
      try {
        const results = await Promise.all([migrate(db), migrate(second)]);
        expect(results.flat().sort((a, b) => a - b)).toEqual(versions);
      } finally {
        await second.close();
      }
    } finally {
      await db.close();
    }
  });
});
