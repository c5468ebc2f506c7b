import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCredentialFile, verifyPassword } from '@iot/backend/broker';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { Fleet } from '../src/fleet/fleet.ts';
import { FlagError, parseFleetFlags } from '../src/fleet/flags.ts';
import { type FleetBackend, fleetDeviceIds, harnessBackend, runFleet } from '../src/fleet/fleet-run.ts';
import { BackendStack } from '../src/harness/backend-stack.ts';
import { makeTempDir } from '../src/processes/temp-dir.ts';
import { eventually } from '../src/testing/log-capture.ts';

const MAIN = fileURLToPath(new URL('../src/fleet/main.ts', import.meta.url));
const PROVISION = fileURLToPath(new URL('../src/fleet/provision.ts', import.meta.url));

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function backend(devices: number, prefix: string): Promise<FleetBackend> {
  const started = await harnessBackend(fleetDeviceIds(devices, prefix), 'sqlite');
  cleanups.push(() => started.dispose());
  return started;
}

async function runNode(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const status = await new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { status, stdout, stderr };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every process below `pid`, from /proc (Linux). */
function descendants(pid: number): number[] {
  const children = readdirSync(`/proc/${pid}/task`).flatMap((task) => {
    try {
      return readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  });
  return children.flatMap((child) => [child, ...descendants(child)]);
}

describe('the fleet runner', () => {
  it('runs a few devices through aedes and a receiver: every recorded reading stored exactly once', async () => {
    const target = await backend(3, 'fleet-run');
    const result = await runFleet({ backend: target, durationSeconds: 3, intervalSeconds: 0.2, seed: 7, workers: 2, devicesPerRedis: 2 });
    expect(result.failures).toEqual([]);
    expect(result.connectedAtStart).toBe(3);
    expect(result.drained).toBe(true);
    expect(result.checker).toBeDefined();
    const checker = result.checker!;
    expect(checker.recorded).toBeGreaterThan(0);
    expect({ lost: checker.lost, duplicated: checker.duplicated, corrupted: checker.corrupted, unexpected: checker.unexpected }).toEqual({
      lost: 0,
      duplicated: 0,
      corrupted: 0,
      unexpected: 0,
    });
    expect(checker.stored).toBe(checker.recorded);
    expect(result.committedPerSecond).toBeGreaterThan(0);
    expect(result.ackLatencyMs?.count).toBeGreaterThan(0);
  });

  it('keeps each device in its own Redis database under the device\'s key names, and leaves no process or directory behind', async () => {
    const target = await backend(3, 'fleet-keys');
    const fleet = await Fleet.start({ devices: target.devices, mqtt: target.mqtt, intervalSeconds: 0.2, seed: 1, workers: 2, devicesPerRedis: 2 });
    let disposed = false;
    cleanups.push(() => (disposed ? undefined : fleet.dispose()));
    await eventually(() => fleet.snapshot().confirmed >= 9, 20_000, 'readings confirmed from every device');
    const pids = [...fleet.workerPids, ...fleet.redisPids];
    expect(fleet.redisPids).toHaveLength(2);
    expect(fleet.workerPids).toHaveLength(2);
    // Devices 0 and 1 share the first server (databases 0 and 1), device 2 has the second to itself.
    const places = [0, 1, 2].map((i) => fleet.placeOf(i));
    expect(places.map((p) => p.db)).toEqual([0, 1, 0]);
    expect(places[0]!.port).toBe(places[1]!.port);
    expect(places[2]!.port).not.toBe(places[0]!.port);
    for (const { host, port, db } of places) {
      const redis = new Redis({ host, port, db, lazyConnect: true });
      await redis.connect();
      try {
        expect(await redis.xlen('measurement:values')).toBeGreaterThan(0);
        expect(await redis.exists('mqtt_sender:last_id')).toBe(1);
      } finally {
        redis.disconnect();
      }
    }
    await fleet.dispose();
    disposed = true;
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(fleet.dir.path)).toBe(false);
  });
});

describe('npm run fleet', () => {
  it.each([
    [['--devices', '0'], /--devices must be a whole number from 1/],
    [['--devices', 'many'], /--devices must be a whole number/],
    [['--minutes', '1', '--seconds', '5'], /--minutes or --seconds, not both/],
    [['--interval', '-1'], /--interval must be a number/],
    [['--mqtt-url', 'mqtt://127.0.0.1:1883'], /go together/],
    [['--mqtt-url', 'http://x', '--credentials', 'c.json', '--database-url', 'sqlite:x'], /only plain mqtt:\/\//],
    [['--devices-per-redis', '17'], /from 1 to 16/],
    [['--colour'], /unknown flag --colour/],
    [['--json'], /--json needs a value/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseFleetFlags(argv)).toThrow(FlagError);
    expect(() => parseFleetFlags(argv)).toThrow(message);
  });

  it('exits with 2 and says why on a bad flag', async () => {
    const child = spawn(process.execPath, [MAIN, '--devices', '-3'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(2);
    expect(stderr).toMatch(/--devices must be a whole number from 1 to 20000 \(got "-3"\)/);
  });

  it('stops everything on SIGTERM: no process and no temp dir of its own left', { timeout: 120_000 }, async () => {
    const fleetDirs = () => new Set(readdirSync(tmpdir()).filter((name) => name.startsWith('iot-fleet-')));
    const before = fleetDirs();
    const child: ChildProcess = spawn(process.execPath, [MAIN, '--devices', '3', '--seconds', '600', '--interval', '0.5', '--database', 'sqlite'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => (child.exitCode === null && child.signalCode === null ? child.kill('SIGKILL') : undefined));
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    await eventually(() => stderr.includes('measuring for 600 s'), 90_000, 'the fleet measuring');
    const below = descendants(child.pid!);
    // redis-servers, the broker, the receiver and the workers run in their own temp dirs or the repository.
    const dirs = below.map((pid) => readlinkSync(`/proc/${pid}/cwd`)).filter((dir) => dir.includes('/iot-'));
    expect(below.length).toBeGreaterThanOrEqual(2 + 2 + 1);
    expect(dirs.length).toBeGreaterThan(0);
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    expect(below.filter(alive)).toEqual([]);
    expect(dirs.filter((dir) => existsSync(dir))).toEqual([]);
    expect([...fleetDirs()].filter((name) => !before.has(name))).toEqual([]);
  });
});

describe('a fleet against a running backend', () => {
  it('provisions device users into a broker credential file, and runs against a broker given by --mqtt-url', { timeout: 120_000 }, async () => {
    const dir = makeTempDir('fleet-provision');
    cleanups.push(() => dir.remove());
    const brokerFile = join(dir.path, 'mqtt-credentials.json');
    const out = join(dir.path, 'fleet-logins.json');
    const provisioned = spawnSync(process.execPath, [PROVISION, '--devices', '2', '--broker-credentials', brokerFile, '--out', out, '--prefix', 'prov'], { encoding: 'utf8' });
    expect(provisioned.status, provisioned.stderr).toBe(0);
    const logins = (JSON.parse(readFileSync(out, 'utf8')) as { devices: { id: string; password: string }[] }).devices;
    expect(logins.map((l) => l.id)).toEqual(['prov-00001', 'prov-00002']);
    const users = loadCredentialFile(brokerFile).users;
    for (const login of logins) {
      const user = users.find((u) => u.username === login.id)!;
      expect(user).toMatchObject({ role: 'device', device_id: login.id });
      expect(await verifyPassword(login.password, user.password_hash)).toBe(true);
    }
    expect(spawnSync(process.execPath, [PROVISION, '--devices', '1', '--broker-credentials', brokerFile, '--out', out, '--prefix', 'prov']).status).toBe(2);

    // A backend the fleet did not start: its broker's address, the devices' logins and its database.
    const stack = await new BackendStack({ deviceIds: ['ext-1', 'ext-2'], broker: 'aedes', database: 'sqlite' }).start();
    cleanups.push(() => stack.dispose());
    await stack.startReceiver();
    const credentials = join(dir.path, 'ext-logins.json');
    writeFileSync(credentials, JSON.stringify({ devices: ['ext-1', 'ext-2'].map((id) => ({ id, password: stack.login(id).password })) }));
    const json = join(dir.path, 'figures.json');
    // Not spawnSync: this process must go on reading the broker's and the receiver's output meanwhile.
    const run = await runNode([
      MAIN,
      ...['--devices', '2', '--seconds', '2', '--interval', '0.25', '--mqtt-url', `mqtt://127.0.0.1:${stack.brokerPort}`],
      ...['--credentials', credentials, '--database-url', stack.databaseUrl, '--json', json],
    ]);
    expect(run.status, run.stderr + run.stdout).toBe(0);
    expect(run.stdout).toMatch(/checker: recorded \d+, stored \d+, lost 0, duplicated 0/);
    const figures = JSON.parse(readFileSync(json, 'utf8')) as { checker: { recorded: number; lost: number; duplicated: number } };
    expect(figures.checker.recorded).toBeGreaterThan(0);
    expect(figures.checker).toMatchObject({ lost: 0, duplicated: 0 });
  });
});
