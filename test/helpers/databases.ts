// Runs a server suite on every database engine: PGlite always, PostgreSQL when the global
// setup found one (test/setup/postgres.ts). Each suite gets a fresh, migrated database. Where
// PostgreSQL was not found, its leg is still collected and reported as skipped, never absent.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, inject } from 'vitest';
import type { Database } from '../../server/db/db.ts';
import { openDatabase } from '../../server/db/open-database.ts';
import { openPglite } from '../../server/db/pglite.ts';
import { openPostgres } from '../../server/db/postgres.ts';

/** An engine a suite can run on. */
export interface Engine {
  name: 'pglite' | 'postgresql';
  /** A fresh migrated database; close it when done. */
  open(): Promise<Database & { url: string | null }>;
  /** A fresh database with no schema at all (for the migrator's own tests); close it when done. */
  openEmpty(): Promise<Database & { url: string | null }>;
}

const pglite: Engine = {
  name: 'pglite',
  open: async () =>
    Object.assign(await openDatabase({ kind: 'pglite', dataDir: null }), { url: null }),
  openEmpty: async () => Object.assign(await openPglite(null), { url: null }),
};

/** A new, empty database on the cluster; its URL. */
async function createDatabase(clusterUrl: string): Promise<string> {
  const name = `hallpass_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: clusterUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(clusterUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

const postgresql = (clusterUrl: string): Engine => ({
  name: 'postgresql',
  async open() {
    const url = await createDatabase(clusterUrl);
    return Object.assign(await openDatabase({ kind: 'postgresql', url }), { url });
  },
  async openEmpty() {
    const url = await createDatabase(clusterUrl);
    return Object.assign(openPostgres(url), { url });
  },
});

const clusterUrl = inject('postgresUrl');

/** Every engine of the suite, with why it cannot run here (null: it runs). */
const legs: readonly { engine: Engine; notRun: string | null }[] = [
  { engine: pglite, notRun: null },
  clusterUrl === null
    ? {
        engine: postgresql('postgresql://unavailable'),
        notRun: 'no PostgreSQL in this run, see its first lines',
      }
    : { engine: postgresql(clusterUrl), notRun: null },
];

/** The engines available in this run: PGlite, and PostgreSQL when one was found. */
export const testEngines: readonly Engine[] = legs.flatMap((leg) =>
  leg.notRun === null ? [leg.engine] : [],
);

/**
 * Declares `body` once per engine as `<title> on <engine>`. A leg that cannot run here is
 * declared all the same and skipped, so the run reports its tests as skipped.
 */
export function describeEachEngine(title: string, body: (engine: Engine) => void): void {
  for (const { engine, notRun } of legs) {
    const name = `${title} on ${engine.name}${notRun === null ? '' : ` (NOT RUN: ${notRun})`}`;
    describe.skipIf(notRun !== null)(name, () => {
      body(engine);
    });
  }
}
