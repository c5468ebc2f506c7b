import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{common,hardware,simulator,device,backend,harness}/test/**/*.test.ts'],
    // Integration tests start real redis-server processes; give them room on a 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
