import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    // One Temporal dev server for the whole run (concurrent createLocal calls race).
    globalSetup: ['test/global-setup.ts'],
    // The SDK's native module does not work in worker_threads: keep child processes.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
