import pg from 'pg';
import type { Database, Queryable, QueryOptions } from './db.ts';

// Return bigint and numeric as JS numbers where they fit: counts and ids stay well below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

/** Opens a pool against a PostgreSQL server (15 or newer). */
export function openPostgres(url: string, poolSize = 10): Database {
  // Parallel workers cost more to start than they save on the server's short queries (the query
  // benchmark measured p95 113 → 64 ms for a check-status filter without them on 2 cores).
  // JIT compiling likewise: the chase list's estimated cost passes jit_above_cost at 100,000
  // devices, and in EXPLAIN ANALYZE on the benchmark's seed compiling took 26 of its 209 ms (681
  // of 908 ms before migration 016, with inlining and optimisation). No query here runs long
  // enough for compiled expressions to win that back.
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    options: '-c max_parallel_workers_per_gather=0 -c jit=off',
  });
  const query = async <R extends object>(
    client: pg.Pool | pg.PoolClient,
    sql: string,
    params?: readonly unknown[],
    options?: QueryOptions,
  ) =>
    (
      await client.query<R>({
        text: sql,
        values: params as unknown[] | undefined,
        ...(options?.name === undefined ? {} : { name: options.name }),
      })
    ).rows;
  return {
    engine: 'postgresql',
    query: (sql, params, options) => query(pool, sql, params, options),
    exec: async (sql) => {
      await pool.query(sql);
    },
    async transaction(work) {
      const client = await pool.connect();
      try {
        await client.query('begin');
        // One connection runs one statement at a time: work that starts several at once (the
        // compliance summary, inside the snapshot job's transaction) waits its turn here rather
        // than piling onto the client, which pg deprecates and pg 9 refuses.
        let turn: Promise<unknown> = Promise.resolve();
        const inTurn = <T>(step: () => Promise<T>): Promise<T> => {
          const run = turn.then(step);
          turn = run.catch(() => undefined);
          return run;
        };
        const tx: Queryable = {
          query: (sql, params, options) => inTurn(() => query(client, sql, params, options)),
          exec: (sql) =>
            inTurn(async () => {
              await client.query(sql);
            }),
        };
        const result = await work(tx);
        await client.query('commit');
        return result;
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}
