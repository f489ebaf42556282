import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// A timeout here only catches a hang; it is never part of a verdict. Many tests spawn real
// processes (the CLI, the server, the service, PostgreSQL) and a loaded 2-core machine made a
// 30 s limit fail test/server/cli.test.ts, so the limits are generous.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // host-usb.ts fails the run if a test changed this host's USB enforcement (and undoes it).
    globalSetup: ['test/setup/postgres.ts', 'test/setup/host-usb.ts'],
    testTimeout: 300_000,
    // Vitest's default is one worker less than the cores: a single worker on a 2-core machine,
    // where the QEMU suites (one CPU-bound guest for minutes) then hold up every other file.
    // Most files wait on processes they spawn, so two at a time finish the suite far sooner.
    maxWorkers: Math.max(2, availableParallelism()),
    hookTimeout: 300_000,
  },
});
