// Vitest global setup: a throwaway PostgreSQL for the server suite's PostgreSQL leg.
// HALLPASS_TEST_DATABASE_URL wins; otherwise, where Debian's postgresql package is installed,
// a private cluster is created in a temp folder on a free port and removed afterwards.
// Without either, the PostgreSQL leg is not run and the run says so.
import type { TestProject } from 'vitest/node';
import { findPgBin, startPrivatePostgres } from '../../scripts/private-postgres.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string | null;
  }
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
  const cluster = await startPrivatePostgres(bin, { prefix: 'hallpass-pg-', fast: true });
  project.provide('postgresUrl', cluster.url);
  return () => {
    cluster.stop();
  };
}
