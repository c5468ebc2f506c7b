import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir } from '@iot/harness/processes';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const hasCompose = spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0;

/** No Docker engine here: docker-compose (v1, Debian) still validates compose files offline. */
describe.skipIf(!hasCompose)('deployment files (needs docker-compose on PATH; .ci/run installs it)', () => {
  const validate = (file: string, env: NodeJS.ProcessEnv = {}) =>
    execFileSync('docker-compose', ['-f', file, 'config', '-q'], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });

  it('the backend and simulation compose files are valid', () => {
    validate(join(root, 'docker-compose.yml'), { MARIADB_PASSWORD: 'x', MARIADB_ROOT_PASSWORD: 'y', RECEIVER_MQTT_PASSWORD: 'z', WEBADMIN_MQTT_PASSWORD: 'w', WEBADMIN_ADMIN_PASSWORD: 'v' });
    validate(join(root, 'docker-compose.sim.yml'));
  });

  it('the balena bundle is a self-contained build context with a valid compose file', () => {
    const out = makeTempDir('balena');
    try {
      execFileSync(join(root, 'balena/bundle.sh'), [out.path], { cwd: root, encoding: 'utf8' });
      validate(join(out.path, 'docker-compose.yml'));
      for (const file of ['balena/Dockerfile.node', 'balena/Dockerfile.redis', 'device/redis/redis.conf', 'device/src/sensor/main.ts', 'hardware/src/index.ts', 'simulator/src/index.ts', 'common/package.json', 'backend/package.json', 'package-lock.json']) {
        expect(existsSync(join(out.path, file)), file).toBe(true);
      }
      // The Pi gets no backend, harness or scenario code: only their package.json, for npm ci.
      for (const folder of ['backend/src', 'harness/src', 'features/steps']) expect(existsSync(join(out.path, folder)), folder).toBe(false);
    } finally {
      out.remove();
    }
  });
});
