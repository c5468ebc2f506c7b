import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{common,hardware,simulator,device,backend,harness}/test/**/*.test.ts'],
    // The container tier (docs/containers.md §7) runs on its own: npm run test:containers.
    exclude: ['**/node_modules/**', '**/*.containers.test.ts'],
    // Integration tests start real redis-server processes; give them room on a 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
