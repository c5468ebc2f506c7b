import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from '../processes/free-port.ts';
import { ManagedProcess } from '../processes/managed-process.ts';
import { makeTempDir } from '../processes/temp-dir.ts';
import { progress } from './stats.ts';

/**
 * The comparison of bench:ingest-ceiling: Node-RED 5 with node-red-node-mysql, installed at bench
 * time outside the project (never a dependency), running the best flow we know for this load:
 * mqtt in (QoS 1, JSON) → function (one multi-row INSERT per batch, duplicates skipped by the
 * unique key as the receiver does) → mysql (its pool writes several batches at once).
 */
export const NODE_RED_DIR = join(homedir(), '.cache', 'iot-stack', 'node-red');

export function installNodeRed(): string {
  const red = join(NODE_RED_DIR, 'node_modules', 'node-red', 'red.js');
  if (existsSync(red) && existsSync(join(NODE_RED_DIR, 'node_modules', 'node-red-node-mysql'))) return red;
  progress(`installing node-red@5 and node-red-node-mysql into ${NODE_RED_DIR}...`);
  mkdirSync(NODE_RED_DIR, { recursive: true });
  execFileSync('npm', ['install', '--prefix', NODE_RED_DIR, '--no-save', '--no-audit', '--no-fund', 'node-red@5', 'node-red-node-mysql'], { stdio: ['ignore', 'ignore', 'inherit'] });
  return red;
}

export interface NodeRedTarget {
  mqtt: { port: number; username: string; password: string; clientId: string };
  mysql: { host: string; port: number; database: string };
}

/** What the function node runs for every batch: the receiver's rows, one statement. */
const FUNCTION = `
const b = msg.payload;
if (!b || typeof b.device !== 'string' || !Array.isArray(b.entries)) return null;
const now = Date.now();
msg.topic = 'INSERT INTO readings (device_id, reading_key, boot_id, seq, stream_id, measured_at, received_at, values_json, clock_skew) VALUES ? ON DUPLICATE KEY UPDATE device_id = device_id';
msg.payload = [b.entries.map((e) => [b.device, e.boot + ':' + e.seq, e.boot, e.seq, e.id, e.at, now, JSON.stringify(e.values), 0])];
return msg;
`;

export async function startNodeRed(red: string, target: NodeRedTarget): Promise<{ process: ManagedProcess; dispose: () => Promise<void> }> {
  const dir = makeTempDir('node-red');
  const port = await findFreePort();
  const flows = [
    { id: 'tab1', type: 'tab', label: 'ingest' },
    {
      id: 'broker1',
      type: 'mqtt-broker',
      name: 'bench broker',
      broker: '127.0.0.1',
      port: String(target.mqtt.port),
      clientid: target.mqtt.clientId,
      autoConnect: true,
      usetls: false,
      protocolVersion: '4',
      keepalive: '60',
      cleansession: true,
    },
    { id: 'db1', type: 'MySQLdatabase', name: 'bench db', host: target.mysql.host, port: String(target.mysql.port), db: target.mysql.database, tz: '', charset: 'UTF8MB4' },
    { id: 'in1', type: 'mqtt in', z: 'tab1', name: 'readings', topic: 'iot-projekt/device/+/readings', qos: '1', datatype: 'json', broker: 'broker1', nl: false, rap: true, rh: 0, inputs: 0, wires: [['fn1']] },
    { id: 'fn1', type: 'function', z: 'tab1', name: 'batch to one INSERT', func: FUNCTION, outputs: 1, noerr: 0, wires: [['sql1']] },
    { id: 'sql1', type: 'mysql', z: 'tab1', mydb: 'db1', name: 'readings', wires: [[]] },
  ];
  writeFileSync(join(dir.path, 'flows.json'), JSON.stringify(flows, null, 2));
  writeFileSync(
    join(dir.path, 'flows_cred.json'),
    JSON.stringify({ broker1: { user: target.mqtt.username, password: target.mqtt.password }, db1: { user: 'root', password: '' } }),
  );
  writeFileSync(
    join(dir.path, 'settings.js'),
    `module.exports = ${JSON.stringify({
      uiPort: port,
      uiHost: '127.0.0.1',
      flowFile: 'flows.json',
      userDir: dir.path,
      credentialSecret: false,
      httpAdminRoot: false,
      logging: { console: { level: 'info', metrics: false, audit: false } },
      diagnostics: { enabled: false },
      telemetry: { enabled: false },
    })};\n`,
  );
  const process = new ManagedProcess({
    name: 'node-red',
    command: globalThis.process.execPath,
    args: ['--max-old-space-size=4096', red, '--settings', join(dir.path, 'settings.js'), '--userDir', dir.path],
    env: { PATH: globalThis.process.env.PATH, HOME: dir.path },
    logFile: join(dir.path, 'node-red.log'),
  });
  try {
    await process.waitForLine((line) => line.includes('Started flows'), 60_000);
    await process.waitForLine((line) => /Connected to broker/i.test(line), 30_000);
  } catch (error) {
    await process.kill();
    throw new Error(`Node-RED did not start its flow: ${error instanceof Error ? error.message : String(error)}\n${process.tail(30)}`);
  }
  return {
    process,
    dispose: async () => {
      await process.kill();
      dir.remove();
    },
  };
}
