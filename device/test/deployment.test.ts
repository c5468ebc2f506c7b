import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir } from '@iot/harness/processes';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

const root = fileURLToPath(new URL('../..', import.meta.url));
const hasCompose = spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0;
const bundleScript = join(root, 'balena/bundle.sh');

interface ComposeService {
  restart?: string;
  user?: string;
  privileged?: boolean;
  ports?: string[];
  devices?: string[];
}

function balenaServices(): Record<string, ComposeService> {
  return (parseYaml(readFileSync(join(root, 'balena/docker-compose.yml'), 'utf8')) as { services: Record<string, ComposeService> }).services;
}

describe('the balena bundle', () => {
  it('is a self-contained build context: the app, the packages the device images copy, no backend, harness or test code', () => {
    const out = makeTempDir('balena');
    try {
      execFileSync(bundleScript, [out.path], { cwd: root, encoding: 'utf8' });
      for (const file of [
        'docker-compose.yml',
        'balena/Dockerfile.node.template',
        'balena/Dockerfile.redis.template',
        'balena/check-arch.sh',
        'balena/redis/grafana-user.conf',
        'balena/grafana/Dockerfile.template',
        'balena/grafana/start-grafana.sh',
        'balena/grafana/provisioning/datasources/device-redis.yaml',
        'balena/grafana/dashboards/device-readings.json',
        'device/redis/redis.conf',
        'device/src/sensor/main.ts',
        'device/src/health/main.ts',
        'hardware/src/index.ts',
        'simulator/src/index.ts',
        'common/package.json',
        'backend/package.json',
        'package-lock.json',
      ]) {
        expect(existsSync(join(out.path, file)), file).toBe(true);
      }
      // The Pi gets no backend, harness or scenario code (only their package.json, for npm ci) and no tests.
      for (const path of ['backend/src', 'harness/src', 'features/steps', 'device/test', 'common/test', 'hardware/contracts', 'balena/bundle.sh']) {
        expect(existsSync(join(out.path, path)), path).toBe(false);
      }
      expect(readFileSync(join(out.path, 'docker-compose.yml'), 'utf8')).toBe(readFileSync(join(root, 'balena/docker-compose.yml'), 'utf8'));
    } finally {
      out.remove();
    }
  });

  it('is updated in place: unchanged files stay untouched and leftovers go, so livepush syncs only changes', () => {
    const out = makeTempDir('balena');
    try {
      execFileSync(bundleScript, [out.path], { cwd: root, encoding: 'utf8' });
      const kept = join(out.path, 'device/src/sensor/main.ts');
      const before = statSync(kept);
      writeFileSync(join(out.path, 'device/src/sensor/removed-meanwhile.ts'), '');
      execFileSync(bundleScript, [out.path], { cwd: root, encoding: 'utf8' });
      expect(existsSync(join(out.path, 'device/src/sensor/removed-meanwhile.ts'))).toBe(false);
      const after = statSync(kept);
      expect({ ino: after.ino, mtimeMs: after.mtimeMs }).toEqual({ ino: before.ino, mtimeMs: before.mtimeMs });
    } finally {
      out.remove();
    }
  });

  it('refuses to empty a directory it did not make', () => {
    const out = makeTempDir('not-a-bundle');
    try {
      writeFileSync(join(out.path, 'precious.txt'), 'keep me');
      const run = spawnSync(bundleScript, [out.path], { cwd: root, encoding: 'utf8' });
      expect(run.status).not.toBe(0);
      expect(run.stderr).toContain('is not a bundle made by this script');
      expect(readFileSync(join(out.path, 'precious.txt'), 'utf8')).toBe('keep me');
    } finally {
      out.remove();
    }
  });

  it('runs every service with restart: always, Grafana published on port 80, and only Grafana published', () => {
    const services = balenaServices();
    expect(Object.keys(services).sort()).toEqual(['grafana', 'mqtthandler', 'redis', 'sensor', 'startstopbutton']);
    for (const [name, service] of Object.entries(services)) {
      expect(service.restart, name).toBe('always');
      if (name !== 'grafana') expect(service.ports, name).toBeUndefined();
    }
    expect(services.grafana!.ports).toEqual(['80:3000']);
    // Only the two services that touch the Pi's hardware run as root, and only the button privileged.
    for (const name of ['redis', 'mqtthandler', 'grafana']) expect([services[name]!.user, services[name]!.privileged], name).toEqual([undefined, undefined]);
    expect(services.sensor).toMatchObject({ user: 'root', devices: ['/dev/i2c-1:/dev/i2c-1'] });
    expect(services.sensor!.privileged).toBeUndefined();
    expect(services.startstopbutton).toMatchObject({ user: 'root', privileged: true });
  });
});

/** docker-compose (v1, Debian) validates compose files offline, without a Docker engine. */
describe.skipIf(!hasCompose)('deployment files (needs docker-compose on PATH; .ci/run installs it)', () => {
  const validate = (file: string, env: NodeJS.ProcessEnv = {}) =>
    execFileSync('docker-compose', ['-f', file, 'config', '-q'], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });

  it('the backend and simulation compose files are valid', () => {
    validate(join(root, 'docker-compose.yml'), { MARIADB_PASSWORD: 'x', MARIADB_ROOT_PASSWORD: 'y', RECEIVER_MQTT_PASSWORD: 'z', WEBADMIN_MQTT_PASSWORD: 'w', WEBADMIN_ADMIN_PASSWORD: 'v' });
    validate(join(root, 'docker-compose.sim.yml'));
  });

  it("the bundle's compose file is valid and names the services balena runs", () => {
    const out = makeTempDir('balena');
    try {
      execFileSync(bundleScript, [out.path], { cwd: root, encoding: 'utf8' });
      const file = join(out.path, 'docker-compose.yml');
      validate(file);
      const services = execFileSync('docker-compose', ['-f', file, 'config', '--services'], { cwd: out.path, encoding: 'utf8' }).trim().split('\n').sort();
      expect(services).toEqual(['grafana', 'mqtthandler', 'redis', 'sensor', 'startstopbutton']);
    } finally {
      out.remove();
    }
  });
});
