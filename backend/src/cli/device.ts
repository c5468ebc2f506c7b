/**
 * Operator CLI for devices.
 *
 *   node backend/src/cli/device.ts command <device-id> <command> [key=value ...] [--ttl 300] [--wait 15]
 *   node backend/src/cli/device.ts config <device-id> key=value [key=value ...]
 *
 * Examples: `command dev-1 set_config key=measurement:interval value=5`,
 * `config dev-1 measurement:interval=5 mqtt_sender:interval=2`.
 * Connects with MQTT_* (a service user) and DATABASE_URL, like the receiver.
 * Exit codes: 0 done (and answered ok), 1 answered with an error / expired / not sent, 2 usage or
 * configuration mistake.
 */
import { systemClock } from '@iot/common/clock';
import { ConfigError, parseEnv, topicEnv, topicSchemeFrom, z } from '@iot/common/config';
import { createLogger } from '@iot/common/log';
import { checkMqttEnv, mqttConnection, mqttEnv } from '@iot/common/mqtt-env';
import { COMMANDS, type CommandName } from '@iot/common/protocol';
import mqtt from 'mqtt';
import { type CommandRequest, ControlError, DeviceControl } from '../control/device-control.ts';
import { openDatabase, parseDatabaseUrl } from '../db/index.ts';

const USAGE = `usage:
  device.ts command <device-id> <${COMMANDS.join('|')}> [key=value ...] [--ttl seconds] [--wait seconds]
  device.ts config <device-id> key=value [key=value ...]`;

function fail(code: number, message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

const [verb, deviceId, ...rest] = process.argv.slice(2);
if ((verb !== 'command' && verb !== 'config') || deviceId === undefined) fail(2, USAGE);

const flags = new Map<string, string>();
const pairs: [string, string][] = [];
for (let i = 0; i < rest.length; i++) {
  const arg = rest[i]!;
  if (arg.startsWith('--')) {
    const value = rest[++i];
    if (value === undefined) fail(2, `${arg} needs a value\n${USAGE}`);
    flags.set(arg.slice(2), value);
  } else if (verb === 'config' || i > 0) {
    const at = arg.indexOf('=');
    if (at <= 0) fail(2, `"${arg}" is not key=value\n${USAGE}`);
    pairs.push([arg.slice(0, at), arg.slice(at + 1)]);
  }
}

const cliSchema = z.object({ ...mqttEnv, ...topicEnv, DATABASE_URL: z.string().optional() }).superRefine(checkMqttEnv);
function parseConfig(): z.infer<typeof cliSchema> {
  try {
    return parseEnv('device-cli', cliSchema, process.env);
  } catch (error) {
    if (error instanceof ConfigError) fail(2, error.message);
    throw error;
  }
}
const config = parseConfig();

const logger = createLogger({ service: 'device-cli', level: 'warn' });
const db = await openDatabase(parseDatabaseUrl(config.DATABASE_URL), { migrate: false });
const client = mqtt.connect({ ...mqttConnection(config), clientId: `device-cli-${process.pid}`, protocolVersion: 4, reconnectPeriod: 0 });
try {
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
} catch (error) {
  await db.close();
  fail(1, `cannot reach the broker at ${config.MQTT_HOST}: ${(error as Error).message}`);
}
const control = new DeviceControl({ db, mqtt: client, topics: topicSchemeFrom(config, 'device-cli'), clock: systemClock, logger });

let exitCode = 0;
try {
  if (verb === 'config') {
    const version = await control.setDesiredConfig(deviceId, Object.fromEntries(pairs));
    process.stdout.write(`${JSON.stringify({ device: deviceId, version })}\n`);
  } else {
    const name = rest[0];
    if (name === undefined || !(COMMANDS as readonly string[]).includes(name.toLowerCase())) fail(2, `unknown command "${name ?? ''}"\n${USAGE}`);
    const args: Record<string, string | number> = {};
    for (const [key, value] of pairs) args[key] = key === 'count' || key === 'seconds' ? Number(value) : value;
    const request: CommandRequest = { ...args, command: name.toLowerCase() as CommandName };
    const id = await control.sendCommand(deviceId, request, { ttlSeconds: Number(flags.get('ttl') ?? 300) });
    const answer = await control.waitForAnswer(id, Number(flags.get('wait') ?? 15) * 1000);
    process.stdout.write(`${JSON.stringify({ id, ...answer })}\n`);
    if (answer.ok !== true) exitCode = 1;
  }
} catch (error) {
  if (!(error instanceof ControlError)) throw error;
  process.stderr.write(`${error.code}: ${error.message}\n`);
  exitCode = error.code === 'not_sent' ? 1 : 2;
} finally {
  await client.endAsync();
  await db.close();
}
process.exit(exitCode);
