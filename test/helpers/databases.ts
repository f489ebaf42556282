// Runs a server suite on every database engine: PGlite always, PostgreSQL when the global
// setup found one (test/setup/postgres.ts). Each suite gets a fresh, migrated database.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import type { Database } from '../../server/db/db.ts';
import { openDatabase } from '../../server/db/open-database.ts';

/** An engine a suite can run on. */
export interface Engine {
  name: 'pglite' | 'postgresql';
  /** A fresh migrated database; close it when done. */
  open(): Promise<Database & { url: string | null }>;
}

const engines: Engine[] = [
  {
    name: 'pglite',
    open: async () =>
      Object.assign(await openDatabase({ kind: 'pglite', dataDir: null }), { url: null }),
  },
];

const clusterUrl = inject('postgresUrl');
if (clusterUrl !== null) {
  engines.push({
    name: 'postgresql',
    async open() {
      const name = `hallpass_test_${randomBytes(6).toString('hex')}`;
      const admin = new pg.Client({ connectionString: clusterUrl });
      await admin.connect();
      await admin.query(`create database ${name}`);
      await admin.end();
      const url = new URL(clusterUrl);
      url.pathname = `/${name}`;
      return Object.assign(await openDatabase({ kind: 'postgresql', url: url.toString() }), {
        url: url.toString(),
      });
    },
  });
}

/** The engines available in this run: PGlite, and PostgreSQL when one was found. */
export const testEngines: readonly Engine[] = engines;
