// A subset of the integration tests with every redis-server, mariadbd and mosquitto run as a
// container from its official image (IOT_TEST_SERVICES=containers), plus the provider's own tests:
//   npx vitest run --config vitest.containers.config.ts
// Without a Docker engine it skips with one line, unless IOT_REQUIRE_DOCKER=1 (CI) makes that a failure.
import { randomBytes } from 'node:crypto';
import { defineConfig } from 'vitest/config';
import { RUN_ID_ENV } from './harness/src/containers/cleanup.ts';
import { engineStatus } from './harness/src/containers/engine.ts';

/** Fast ones that crash and restart each server, so kill/start through Docker is what they test. */
const SUBSET = [
  // the provider itself: choice, env validation, 127.0.0.1 only, labels, cleanup
  'harness/test/container-provider*.test.ts',
  // Redis: power cuts truncate the AOF in the bind-mounted dir; kill/start keeps port and data
  'harness/test/power-cut.test.ts',
  // Redis: the device's sensor against a Redis that comes and goes
  'device/test/sensor.test.ts',
  // MariaDB: every store, plus kill/restart and freeze/thaw of mariadbd
  'backend/test/db/mariadb-stores.test.ts',
  // Mosquitto: password file, ACL and the dynamic-security plugin's client id binding
  'backend/test/broker/client-id-binding.test.ts',
  // the repository's compose files, brought up as the README says (docs/containers.md §7)
  '**/*.containers.test.ts',
];

export default defineConfig(async () => {
  const engine = await engineStatus();
  if (!engine.ok) {
    const why = `no Docker engine answers (${engine.reason})`;
    if (process.env.IOT_REQUIRE_DOCKER === '1') throw new Error(`vitest.containers.config.ts: IOT_REQUIRE_DOCKER=1, but ${why}`);
    process.stderr.write(`vitest.containers.config.ts: skipped, ${why}; start Docker (or set DOCKER_HOST) to run the container tests, IOT_REQUIRE_DOCKER=1 to fail instead\n`);
    return { test: { include: [], passWithNoTests: true, reporters: [{}] } };
  }
  // One id for the whole run, here and in every worker, so the globalSetup's teardown finds what a
  // crashed worker left.
  process.env[RUN_ID_ENV] ||= `vitest-${randomBytes(4).toString('hex')}`;
  return {
    test: {
      include: SUBSET,
      env: { IOT_TEST_SERVICES: 'containers', [RUN_ID_ENV]: process.env[RUN_ID_ENV], TESTCONTAINERS_RYUK_DISABLED: process.env.TESTCONTAINERS_RYUK_DISABLED ?? 'true' },
      globalSetup: ['harness/src/containers/vitest-global-setup.ts'],
      // A container start costs about a second more than a process; give hooks and tests room.
      testTimeout: 60_000,
      hookTimeout: 60_000,
      pool: 'forks',
    },
  };
});
