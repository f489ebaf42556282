import { PGlite } from '@electric-sql/pglite';
import type { Database, Queryable } from './db.ts';

/**
 * Opens embedded PGlite (PostgreSQL in WebAssembly) in a folder, or in memory when null.
 * PGlite runs one query at a time; it queues concurrent calls itself.
 */
export async function openPglite(dataDir: string | null): Promise<Database> {
  const db = dataDir === null ? new PGlite() : new PGlite(dataDir);
  await db.waitReady;
  const query = async <R extends object>(
    target: Pick<PGlite, 'query'>,
    sql: string,
    params?: readonly unknown[],
  ) => (await target.query<R>(sql, params as unknown[] | undefined)).rows;
  return {
    engine: 'pglite',
    query: (sql, params) => query(db, sql, params),
    exec: async (sql) => {
      await db.exec(sql);
    },
    transaction: (work) =>
      db.transaction((tx) => {
        const handle: Queryable = {
          query: (sql, params) => query(tx, sql, params),
          exec: async (sql) => {
            await tx.exec(sql);
          },
        };
        return work(handle);
      }),
    close: () => db.close(),
  };
}
