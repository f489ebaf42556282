// Vitest global setup: a throwaway PostgreSQL for the server suite's PostgreSQL leg.
// HALLPASS_TEST_DATABASE_URL wins; otherwise, where Debian's postgresql package is installed,
// a private cluster is created in a temp folder on a free port and removed afterwards.
// HALLPASS_TEST_POSTGRES=off skips the leg on purpose (as if none were installed).
// Without either, the PostgreSQL leg is skipped and the run says so (its tests are reported as
// skipped, test/helpers/databases.ts) — except under CI (CI=true), where the leg is mandatory
// and the run fails at once.
import type { TestProject } from 'vitest/node';
import { findPgBin, startPrivatePostgres } from '../../scripts/private-postgres.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string | null;
  }
}

/** Whether this run is CI's: CI set to anything but empty, 0 or false (as CI services set it). */
export function isCi(env: NodeJS.ProcessEnv): boolean {
  const value = (env.CI ?? '').trim().toLowerCase();
  return value !== '' && value !== '0' && value !== 'false';
}

/** Provides the PostgreSQL URL (or null) to the suites; returns the teardown. */
export default async function setup(project: TestProject): Promise<(() => void) | undefined> {
  const given = process.env.HALLPASS_TEST_DATABASE_URL;
  if (given) {
    project.provide('postgresUrl', given);
    return undefined;
  }
  const off = process.env.HALLPASS_TEST_POSTGRES === 'off';
  const bin = off ? null : findPgBin();
  if (bin === null) {
    if (isCi(process.env)) {
      throw new Error(
        `CI=true: the PostgreSQL leg of the server suite is mandatory, and ${off ? 'HALLPASS_TEST_POSTGRES=off asks to skip it' : 'no PostgreSQL was found (apt-get install postgresql, or set HALLPASS_TEST_DATABASE_URL)'}`,
      );
    }
    project.provide('postgresUrl', null);
    process.stderr.write(
      `\n*** PostgreSQL leg NOT RUN: ${off ? 'HALLPASS_TEST_POSTGRES=off' : 'no PostgreSQL found (apt-get install postgresql, or set HALLPASS_TEST_DATABASE_URL)'}. The server suite ran on PGlite only; its PostgreSQL tests are reported as skipped. ***\n\n`,
    );
    return undefined;
  }
  const cluster = await startPrivatePostgres(bin, { prefix: 'hallpass-pg-', fast: true });
  project.provide('postgresUrl', cluster.url);
  return () => {
    cluster.stop();
  };
}
