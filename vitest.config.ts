import { defineConfig } from 'vitest/config';

// A timeout here only catches a hang; it is never part of a verdict. Many tests spawn real
// processes (the CLI, the server, the service, PostgreSQL) and a loaded 2-core machine made a
// 30 s limit fail test/server/cli.test.ts, so the limits are generous.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/postgres.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
