// A private PostgreSQL for the server benchmarks (scripts/private-postgres.ts, fsync on):
// HALLPASS_BENCH_DATABASE_URL wins; otherwise a throwaway cluster in a temp folder.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import pg from 'pg';
import { findPgBin, startPrivatePostgres } from '../scripts/private-postgres.ts';

/** A database to benchmark against, and how to get rid of it. */
export interface BenchPostgres {
  url: string;
  /** What it is, for the results ("PostgreSQL 15.x, private cluster"). */
  description: string;
  /** The postmaster's pid when the cluster is ours (to read its CPU time), else null. */
  postmasterPid: number | null;
  stop(): void;
}

/** Starts (or names) the PostgreSQL to benchmark; throws when there is none. */
export async function startBenchPostgres(): Promise<BenchPostgres> {
  const given = process.env.HALLPASS_BENCH_DATABASE_URL;
  if (given) {
    return {
      url: given,
      description: 'PostgreSQL from HALLPASS_BENCH_DATABASE_URL',
      postmasterPid: null,
      stop: () => undefined,
    };
  }
  const bin = findPgBin();
  if (bin === null) {
    throw new Error(
      'no PostgreSQL: apt-get install postgresql, or set HALLPASS_BENCH_DATABASE_URL',
    );
  }
  // Durable settings (fsync on) as a real server would run. pg_stat_statements: the benchmarks
  // report where PostgreSQL's time goes. BENCH_PG_OPTIONS adds settings for an experiment
  // ("-c max_parallel_workers_per_gather=0").
  const extra = process.env.BENCH_PG_OPTIONS ?? '';
  const cluster = await startPrivatePostgres(bin, {
    prefix: 'hallpass-bench-pg-',
    fast: false,
    settings: `-c shared_buffers=256MB -c shared_preload_libraries=pg_stat_statements ${extra}`,
  });
  return {
    url: cluster.url,
    description: `${cluster.version.replace(/^postgres \(PostgreSQL\) /, 'PostgreSQL ')}, private cluster in a temp folder${extra ? ` with \`${extra}\`` : ''}`,
    postmasterPid: cluster.postmasterPid,
    stop: () => {
      cluster.stop();
    },
  };
}

/**
 * CPU seconds (user + system) of the postmaster, its live children (the backends) and the
 * children it has reaped (its cutime and cstime: a backend that exits keeps its time there), read
 * from /proc. Differences between two readings give the database's share of a run; null off Linux.
 */
export function postgresCpuSeconds(postmasterPid: number | null): number | null {
  if (postmasterPid === null || !existsSync('/proc')) {
    return null;
  }
  const ticks = 100; // USER_HZ on Linux
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Fields after the ")" closing the command name: state ppid … utime(14) stime(15).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pid = Number(entry);
    const ppid = Number(fields[1]);
    if (pid === postmasterPid || ppid === postmasterPid) {
      total += Number(fields[11]) + Number(fields[12]);
    }
    if (pid === postmasterPid) {
      total += Number(fields[13]) + Number(fields[14]);
    }
  }
  return total / ticks;
}

/** One line of pg_stat_statements. */
export interface StatementStats {
  query: string;
  calls: number;
  totalMs: number;
  meanMs: number;
}

/**
 * Resets pg_stat_statements (creating the extension if needed); false when it is not loaded
 * (an external database without it in shared_preload_libraries).
 */
export async function resetStatementStats(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('create extension if not exists pg_stat_statements');
    await client.query('select pg_stat_statements_reset()');
    return true;
  } catch {
    return false;
  } finally {
    await client.end();
  }
}

/** The `limit` statements with the most execution time since the last reset. */
export async function topStatements(url: string, limit: number): Promise<StatementStats[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{
      query: string;
      calls: string;
      total: number;
      mean: number;
    }>(
      `select query, calls, total_exec_time as total, mean_exec_time as mean
         from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())
        order by total_exec_time desc limit $1`,
      [limit],
    );
    return rows.map((r) => ({
      query: r.query.replace(/\s+/g, ' ').trim(),
      calls: Number(r.calls),
      totalMs: r.total,
      meanMs: r.mean,
    }));
  } catch {
    return [];
  } finally {
    await client.end();
  }
}

/** The commit measured, and whether server/ had uncommitted changes, for the results. */
export function sourceState(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { stdio: 'pipe' })
      .toString()
      .trim();
    const dirty =
      execFileSync('git', ['status', '--porcelain', '--', 'server'], { stdio: 'pipe' })
        .toString()
        .trim() !== '';
    return `commit ${head}${dirty ? ' with uncommitted changes in server/' : ''}`;
  } catch {
    return 'commit unknown';
  }
}

/** The 1-minute load average before a run: other work on the machine skews absolute figures. */
export function loadNote(): string {
  const [one] = os.loadavg();
  return `load average ${(one ?? 0).toFixed(1)} at the start`;
}
