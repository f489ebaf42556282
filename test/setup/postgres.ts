// Vitest global setup: a throwaway PostgreSQL for the server suite's PostgreSQL leg.
// HALLPASS_TEST_DATABASE_URL wins; otherwise, where Debian's postgresql package is installed,
// a private cluster is created in a temp folder on a free port and removed afterwards.
// Without either, the PostgreSQL leg is not run and the run says so.
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string | null;
  }
}

function findPgBin(): string | null {
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

export default async function setup(project: TestProject): Promise<(() => void) | undefined> {
  const given = process.env.HALLPASS_TEST_DATABASE_URL;
  if (given) {
    project.provide('postgresUrl', given);
    return undefined;
  }
  const bin = findPgBin();
  if (bin === null) {
    project.provide('postgresUrl', null);
    process.stderr.write(
      '\n*** PostgreSQL leg NOT RUN: no PostgreSQL found (apt-get install postgresql, or set HALLPASS_TEST_DATABASE_URL). The server suite ran on PGlite only. ***\n\n',
    );
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'hallpass-pg-'));
  // initdb refuses to run as root: hand the folder to the postgres user and run as it.
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
    '--no-sync',
  ]);
  run(join(bin, 'pg_ctl'), [
    '-D',
    data,
    '-w',
    '-l',
    join(dir, 'log'),
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
    'start',
  ]);
  project.provide('postgresUrl', `postgres://hallpass@127.0.0.1:${port}/postgres`);
  return () => {
    try {
      run(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}
