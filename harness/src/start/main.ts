import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackendStack, type WebAdminInfo } from '../harness/backend-stack.ts';
import { SimulatedDevice } from '../harness/simulated-device.ts';
import { findFreePort } from '../processes/free-port.ts';
import { FleetDevices } from './fleet-devices.ts';

/**
 * `npm start`: a complete simulated system on this machine, from embedded defaults.
 *   DEVICES (3) simulated devices, each its own redis-server and one all-in-one device process
 *   (sensor, start/stop button, uplink) on simulated BME280 + SHT31; the aedes broker; a receiver
 *   on SQLite, or on MariaDB when DATABASE_URL is set; the web admin (WEBADMIN_PORT, default 8080).
 *   More than PROCESS_DEVICES_MAX devices run as a fleet (fleet-devices.ts): many virtual devices per
 *   worker process, 16 to a redis-server.
 * It says where everything is, reports progress, and Ctrl+C stops it all.
 */
/** Beyond this many, a process and a redis-server per device take too much of a laptop. */
const PROCESS_DEVICES_MAX = 50;
const FLEET_DEVICES_MAX = 5000;
const deviceCount = Number(process.env.DEVICES ?? 3);
if (!Number.isInteger(deviceCount) || deviceCount < 1 || deviceCount > FLEET_DEVICES_MAX) {
  fail(`DEVICES must be a whole number from 1 to ${FLEET_DEVICES_MAX} (up to ${PROCESS_DEVICES_MAX}: a process each; more: a fleet of virtual devices)`);
}
const asFleet = deviceCount > PROCESS_DEVICES_MAX;
const intervalSeconds = Number(process.env.INTERVAL_SECONDS ?? 2);
if (!Number.isFinite(intervalSeconds) || intervalSeconds < (asFleet ? 0.1 : 0)) fail(`INTERVAL_SECONDS must be a number of seconds${asFleet ? ' of at least 0.1 for a fleet' : ''}`);
requireBinary('redis-server', 'redis-server (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis)');

const runDir = join(tmpdir(), `iot-start-${new Date().toISOString().replace(/[:.]/g, '-')}`);
mkdirSync(runDir, { recursive: true });
const ids = Array.from({ length: deviceCount }, (_, i) => `sim-${i + 1}`);
const stack = new BackendStack({
  deviceIds: ids,
  broker: 'aedes',
  database: 'sqlite',
  logDir: runDir,
  ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : {}),
});
const devices: SimulatedDevice[] = [];
let fleet: FleetDevices | undefined;

let stopping = false;
async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    clearInterval(progressTimer);
    process.stdout.write('\nStopping: devices first (clean-shutdown markers), then receiver, broker and database.\n');
    await Promise.all(devices.map(async (d) => d.sensor?.stop('SIGTERM')));
    await Promise.all(devices.map((d) => d.dispose()));
    await fleet?.stop();
    await stack.dispose();
    process.stdout.write(`Logs kept in ${runDir}\n`);
  }
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
let progressTimer: ReturnType<typeof setInterval> | undefined;
let web: WebAdminInfo | undefined;

try {
  process.stdout.write(`Starting the backend (aedes, receiver, ${process.env.DATABASE_URL ? 'MariaDB from DATABASE_URL' : 'SQLite'})...\n`);
  await stack.start();
  await stack.startReceiver();
  if (asFleet) {
    process.stdout.write(`Starting ${deviceCount} virtual devices as a fleet...\n`);
    fleet = await FleetDevices.start(stack, ids, intervalSeconds, (line) => process.stdout.write(`  ${line}\n`));
  } else {
    process.stdout.write(`Starting ${deviceCount} simulated devices...\n`);
    for (const id of ids) {
      const device = new SimulatedDevice({
        id,
        mode: 'all-in-one',
        mqtt: { port: stack.brokerPort, login: stack.login(id) },
        intervalSeconds,
        sensors: process.env.SENSORS ?? 'bme280@0x76,sht31@0x44:outdoor',
        environment: process.env.SIM_ENVIRONMENT ?? 'daily:600',
        logDir: runDir,
      });
      devices.push(device);
      await device.start();
    }
  }
  process.stdout.write('Starting the web admin...\n');
  web = await stack.startWebAdmin({ port: await webAdminPort() });
} catch (error) {
  process.stderr.write(`\nCould not start the system: ${(error as Error).message}\n`);
  await stop(1);
}

const operator = stack.login('operator');
const env = `MQTT_PORT=${stack.brokerPort} MQTT_USERNAME=${operator.username} MQTT_PASSWORD=${operator.password} DATABASE_URL=${stack.databaseUrl}`;
process.stdout.write(`
Simulated system running.
  Web admin   ${web?.url}   (log in as ${web?.admin.username} / ${web?.admin.password})
  Broker      mqtt://127.0.0.1:${stack.brokerPort}   (aedes; users in ${stack.credentials.file})
  Database    ${stack.databaseUrl}
  Logs        ${runDir}   (JSON lines: broker.log, receiver-1.log, <device>.log)
  Devices
${fleet?.describe(ids).join('\n') ?? devices.map((d) => `    ${d.id}   Redis 127.0.0.1:${d.redis.port}   pid ${d.sensor?.pid}`).join('\n')}

Try:
  ${fleet?.redisCli() ?? `redis-cli -p ${devices[0]!.redis.port} XREVRANGE measurement:values + - COUNT 3`}
  ${env} \\
    node backend/src/cli/device.ts command sim-1 set_interval seconds=0.5
  ${env} \\
    node backend/src/cli/device.ts config sim-2 measurement:enabled=0

Ctrl+C stops everything.

`);

const db = await stack.database();
progressTimer = setInterval(async () => {
  try {
    if (fleet !== undefined) {
      process.stdout.write(`[${new Date().toISOString()}] ${fleet.progressLine()}\n`);
      return;
    }
    const parts = await Promise.all(
      devices.map(async (d) => `${d.id} ${d.history().length} recorded / ${await db.readings.countReadings(d.id)} stored`),
    );
    process.stdout.write(`[${new Date().toISOString()}] ${parts.join(', ')}\n`);
  } catch (error) {
    process.stdout.write(`progress unavailable: ${(error as Error).message}\n`);
  }
}, 10_000);

/** WEBADMIN_PORT when set, else 8080 when free, else any free port (8080 is often taken). */
async function webAdminPort(): Promise<number> {
  if (process.env.WEBADMIN_PORT !== undefined) {
    const port = Number(process.env.WEBADMIN_PORT);
    if (!Number.isInteger(port) || port < 1 || port > 65535) fail('WEBADMIN_PORT must be a port number from 1 to 65535');
    return port;
  }
  const free = await new Promise<boolean>((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(8080, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
  return free ? 8080 : findFreePort();
}

function requireBinary(name: string, hint: string): void {
  try {
    execFileSync(name, ['--version'], { stdio: 'ignore' });
  } catch {
    fail(`${name} was not found on PATH. Install ${hint}. (A Docker-based fallback is not built in.)`);
  }
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}
