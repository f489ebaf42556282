import { PGlite } from '@electric-sql/pglite';
import type { Database, Queryable } from './db.ts';
import { lockDataDir } from './pglite-lock.ts';

/**
 * Opens embedded PGlite (PostgreSQL in WebAssembly) in a folder, or in memory when null.
 * PGlite runs one query at a time; it queues concurrent calls itself. A folder is locked for
 * this process while open (pglite-lock.ts): a second process is refused with `DatabaseInUseError`.
 */
export async function openPglite(dataDir: string | null): Promise<Database> {
  const lock = dataDir === null ? null : await lockDataDir(dataDir);
  let db: PGlite;
  try {
    db = dataDir === null ? new PGlite() : new PGlite(dataDir);
    await db.waitReady;
  } catch (error) {
    await lock?.release();
    throw error;
  }
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
    close: async () => {
      try {
        await db.close();
      } finally {
        await lock?.release();
      }
    },
  };
}
