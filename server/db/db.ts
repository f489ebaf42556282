/**
 * How a statement is sent. `name` makes it a prepared statement on PostgreSQL: parsed and
 * planned once per pooled connection, then only bound and executed (for hot statements whose
 * planning costs as much as running them). PGlite runs in-process and ignores it.
 */
export interface QueryOptions {
  name?: string;
}

/** A row-returning SQL call with positional parameters ($1, $2, …). */
export interface Queryable {
  query<R extends object = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<R[]>;
  /** Runs several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

/** The server's database: PostgreSQL through `pg`, or embedded PGlite; one SQL dialect for both. */
export interface Database extends Queryable {
  /** Which engine is behind this handle, for logs and the health endpoint. */
  readonly engine: 'postgresql' | 'pglite';
  /** Runs `work` in one transaction; rolls back when it throws. */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Where the database lives: a PostgreSQL URL, or a folder for PGlite (null: in memory). */
export type DatabaseLocation =
  { kind: 'postgresql'; url: string } | { kind: 'pglite'; dataDir: string | null };
