// A throwaway PostgreSQL cluster from Debian's postgresql package, in a temp folder on a free
// loopback port, for the test suite's PostgreSQL leg and the server benchmarks. initdb refuses
// to run as root, so as root the cluster runs as the postgres user.
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running private cluster. */
export interface PrivatePostgres {
  url: string;
  /** `postgres --version`, e.g. "postgres (PostgreSQL) 15.18 (Debian …)". */
  version: string;
  postmasterPid: number | null;
  stop(): void;
}

/** The newest installed PostgreSQL's bin folder, or null when none is installed. */
export function findPgBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) {
    return null;
  }
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? null : join(root, versions[0], 'bin');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        resolve(typeof address === 'object' && address ? address.port : 0);
      });
    });
    server.on('error', reject);
  });
}

/**
 * Creates and starts a cluster with `bin`'s initdb and pg_ctl. `settings` are extra server
 * options (`-c name=value …`); `fast` turns fsync off for tests (never for benchmarks).
 */
export async function startPrivatePostgres(
  bin: string,
  options: { prefix: string; fast: boolean; settings?: string },
): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), options.prefix));
  const asRoot = process.getuid?.() === 0;
  const run = (command: string, args: string[]) =>
    execFileSync(
      asRoot ? 'runuser' : command,
      asRoot ? ['-u', 'postgres', '--', command, ...args] : args,
      {
        stdio: 'pipe',
      },
    );
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const port = await freePort();
  run(join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'hallpass',
    '--auth=trust',
    '-E',
    'UTF8',
    ...(options.fast ? ['--no-sync'] : []),
  ]);
  const server = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200`;
  run(join(bin, 'pg_ctl'), [
    '-D',
    data,
    '-w',
    '-l',
    join(dir, 'log'),
    '-o',
    `${server}${options.fast ? ' -c fsync=off' : ''} ${options.settings ?? ''}`,
    'start',
  ]);
  const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  return {
    url: `postgres://hallpass@127.0.0.1:${port}/postgres`,
    version: run(join(bin, 'postgres'), ['--version']).toString().trim(),
    postmasterPid: Number.isInteger(pid) ? pid : null,
    stop() {
      try {
        run(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
