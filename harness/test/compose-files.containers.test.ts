import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SimulatedDevice } from '../src/harness/index.ts';
import { ComposeProject, containerTierUnavailable } from '../src/compose/index.ts';
import { findFreePort, makeTempDir } from '../src/processes/index.ts';
import { eventually } from '../src/testing/index.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The two compose files as the README runs them (docs/containers.md §4, §5): `up` brings up a
 * working system, readings reach MariaDB, and `down -v` leaves no container, network or volume.
 * The images must exist (docker/build-images.sh); the container tier's runner builds them first.
 */
const unavailable = containerTierUnavailable();
const runId = `${process.pid}${randomBytes(2).toString('hex')}`;

/** A logged-in client of the web admin at `port`. */
async function webAdmin(port: number, username: string, password: string) {
  const base = `http://127.0.0.1:${port}`;
  const login = await fetch(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  if (login.status !== 200) throw new Error(`web admin login as ${username}: ${login.status} ${await login.text()}`);
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  return {
    readings: async (deviceId: string): Promise<number> => {
      // Polled by eventually(): half a second between requests is plenty for readings every 2 s.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const response = await fetch(`${base}/api/devices/${deviceId}/readings?limit=1000`, { headers: { cookie } });
      if (response.status === 404) return 0;
      if (!response.ok) throw new Error(`GET readings of ${deviceId}: ${response.status}`);
      return ((await response.json()) as { readings: unknown[] }).readings.length;
    },
  };
}

describe.skipIf(unavailable !== undefined)(`docker-compose.sim.yml${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  let project: ComposeProject;
  let webadminPort: number;
  let controlPort: number;

  beforeAll(async () => {
    webadminPort = await findFreePort();
    controlPort = await findFreePort();
    project = new ComposeProject({
      file: 'docker-compose.sim.yml',
      name: `iotsim${runId}`,
      env: { SIM_WEBADMIN_PORT: String(webadminPort), SIM_CONTROL_PORT: String(controlPort) },
    });
    await project.compose(['up', '-d', '--no-build']);
    await project.waitUntilReady();
  }, 300_000);

  afterAll(async () => {
    await project?.down();
  }, 120_000);

  it('brings up the backend, the simulator and three devices whose readings reach MariaDB', async () => {
    const login = /web admin login: (\S+) \/ (\S+)/.exec(await project.logs('provision'));
    expect(login, 'the provision service prints the web admin login').not.toBeNull();
    const web = await webAdmin(webadminPort, login![1]!, login![2]!);
    await eventually(async () => (await Promise.all(['sim-1', 'sim-2', 'sim-3'].map((id) => web.readings(id)))).every((n) => n >= 3), 120_000, 'readings of every simulated device in the web admin');
  }, 150_000);

  it('serves the simulation control API on 127.0.0.1: a button press reaches the device that watches the pin', async () => {
    const control = `http://127.0.0.1:${controlPort}`;
    const devices = (await (await fetch(`${control}/devices`)).json()) as { devices: string[] };
    expect(devices.devices.sort()).toEqual(['sim-1', 'sim-2', 'sim-3']);
    const click = await fetch(`${control}/devices/sim-1/button`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pin: 17, action: 'click' }) });
    expect(click.status).toBe(200);
    const wrongPin = await fetch(`${control}/devices/sim-1/button`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pin: 5, action: 'click' }) });
    expect(wrongPin.status).toBe(409);
    // Put measuring back on, so the device goes on as the README describes.
    await fetch(`${control}/devices/sim-1/button`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pin: 17, action: 'click' }) });
  });

  it('publishes nothing but the web admin and the control API, and only on 127.0.0.1', async () => {
    const ids = await project.containerIds();
    const { docker } = await import('../src/compose/index.ts');
    const bindings = (await docker(['inspect', '--format', '{{json .HostConfig.PortBindings}}', ...ids])).split('\n').filter((l) => l !== '' && l !== 'null' && l !== '{}');
    const published = bindings.flatMap((line) => Object.values(JSON.parse(line) as Record<string, { HostIp: string; HostPort: string }[]>).flat());
    expect(published.map((b) => b.HostIp)).toEqual(['127.0.0.1', '127.0.0.1']);
    expect(published.map((b) => Number(b.HostPort)).sort()).toEqual([webadminPort, controlPort].sort());
  });

  it('down -v leaves no container, network or volume of the project', async () => {
    await project.down();
    expect(await project.leftovers()).toEqual({ containers: [], networks: [], volumes: [] });
  }, 120_000);
});

describe.skipIf(unavailable !== undefined)(`docker-compose.yml${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  const dir = makeTempDir('compose-backend');
  let project: ComposeProject;
  let device: SimulatedDevice | undefined;
  const secret = () => randomBytes(18).toString('base64url');
  const admin = { username: 'admin', password: secret() };
  let webadminPort: number;
  let mqttTlsPort: number;
  const tlsDir = join(dir.path, 'tls');

  beforeAll(async () => {
    webadminPort = await findFreePort();
    mqttTlsPort = await findFreePort();
    // The broker's TLS listener, configured as docs/containers.md §4.3 says: a certificate for
    // 127.0.0.1 in MQTT_TLS_DIR, readable by the container's non-root user.
    mkdirSync(tlsDir);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(tlsDir, 'server.key'), '-out', join(tlsDir, 'server.crt')], { stdio: 'ignore' });
    chmodSync(join(tlsDir, 'server.key'), 0o644);
    const envFile = join(dir.path, '.env');
    const values = {
      MARIADB_PASSWORD: secret(),
      MARIADB_ROOT_PASSWORD: secret(),
      RECEIVER_MQTT_PASSWORD: secret(),
      WEBADMIN_MQTT_PASSWORD: secret(),
      WEBADMIN_ADMIN_USERNAME: admin.username,
      WEBADMIN_ADMIN_PASSWORD: admin.password,
      WEBADMIN_PUBLISHED_PORT: String(webadminPort),
      MQTT_PUBLISHED_PORT: String(await findFreePort()),
      MQTT_TLS_PUBLISHED_PORT: String(mqttTlsPort),
      MQTT_TLS_DIR: tlsDir,
      MQTT_TLS_CERTFILE: '/tls/server.crt',
      MQTT_TLS_KEYFILE: '/tls/server.key',
    };
    writeFileSync(envFile, Object.entries(values).map(([k, v]) => `${k}=${v}\n`).join(''));
    project = new ComposeProject({ file: 'docker-compose.yml', name: `iotbackend${runId}`, envFile });
    await project.compose(['up', '-d', '--no-build']);
    await project.waitUntilReady();
  }, 300_000);

  afterAll(async () => {
    await device?.dispose();
    await project?.down();
    dir.remove();
  }, 120_000);

  it('takes a device account the documented way, and a device on the host delivers to it over TLS', async () => {
    const password = secret();
    await project.compose(
      ['run', '--rm', '-T', '--entrypoint', 'node', 'mqtt-users', 'backend/src/cli/mqtt-user.ts', 'add', '--file', '/config/mqtt-credentials.json', '--username', 'dev-c1', '--role', 'device', '--device-id', 'dev-c1'],
      120_000,
      `${password}\n`,
    );
    await project.compose(['restart', 'mqttserver']);
    await project.waitUntilReady();
    device = await new SimulatedDevice({
      id: 'dev-c1',
      mqtt: { port: mqttTlsPort, login: { username: 'dev-c1', password } },
      intervalSeconds: 0.2,
      // The device verifies the broker's certificate against this CA (here: the certificate itself).
      uplinkEnv: { MQTT_TLS_CA_CERTS: join(tlsDir, 'server.crt') },
    }).start();
    const web = await webAdmin(webadminPort, admin.username, admin.password);
    await eventually(async () => (await web.readings('dev-c1')) >= 10, 120_000, 'readings of dev-c1 in the web admin');
  }, 200_000);

  it('down -v leaves no container, network or volume of the project', async () => {
    await device?.dispose();
    device = undefined;
    await project.down();
    expect(await project.leftovers()).toEqual({ containers: [], networks: [], volumes: [] });
  }, 120_000);
});
