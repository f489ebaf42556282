// The PostgreSQL leg of the server suite, seen from outside: a nested vitest run of one
// two-engine suite (the migrator's) with PostgreSQL switched off. Without CI the leg's tests are
// reported as skipped, not absent; with CI=true the run fails before any test.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const vitest = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url));
const SUITE = 'test/server/db/migrate.test.ts';

interface JsonReport {
  numPassedTests: number;
  numPendingTests: number;
  numFailedTests: number;
  testResults: { assertionResults: { fullName: string; status: string }[] }[];
}

/** Runs vitest on SUITE with `env` added (and this run's own vitest variables removed). */
function nestedRun(env: Record<string, string>) {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('VITEST') && key !== 'CI'),
  );
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [vitest, 'run', SUITE, '--reporter=json'],
      { cwd: root, env: { ...inherited, ...env }, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('the PostgreSQL leg when there is no PostgreSQL', { timeout: 300_000 }, () => {
  it('is reported as skipped tests outside CI', async () => {
    const run = await nestedRun({ HALLPASS_TEST_POSTGRES: 'off' });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('PostgreSQL leg NOT RUN');
    const report = JSON.parse(run.stdout) as JsonReport;
    const tests = report.testResults.flatMap((file) => file.assertionResults);
    const postgres = tests.filter((t) => t.fullName.includes(' on postgresql'));
    const pglite = tests.filter((t) => t.fullName.includes(' on pglite'));
    // Every PGlite test has its PostgreSQL twin, skipped.
    expect(pglite.length).toBeGreaterThan(0);
    expect(postgres.map((t) => t.status)).toEqual(pglite.map(() => 'skipped'));
    expect(pglite.every((t) => t.status === 'passed')).toBe(true);
    expect(report.numPendingTests).toBe(postgres.length);
  });

  it('fails the run under CI=true', async () => {
    const run = await nestedRun({ HALLPASS_TEST_POSTGRES: 'off', CI: 'true' });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('CI=true: the PostgreSQL leg of the server suite is mandatory');
  });
});
