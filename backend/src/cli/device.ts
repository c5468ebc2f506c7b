/**
 * Operator CLI for devices.
 *
 *   node backend/src/cli/device.ts command <device-id> <command> [key=value ...] [--ttl 300] [--wait 15]
 *   node backend/src/cli/device.ts config <device-id> key=value [key=value ...]
 *   node backend/src/cli/device.ts broadcast <command> [key] [value] [--ttl 300] [--wait 10] [--yes-reboot-all-devices]
 *   node backend/src/cli/device.ts broadcasts [--limit 20]
 *   node backend/src/cli/device.ts broadcast-answers <broadcast-id>
 *
 * Examples: `command dev-1 set_config key=measurement:interval value=5`,
 * `config dev-1 measurement:interval=5 mqtt_sender:interval=2`,
 * `broadcast set_config measurement:interval 5`, `broadcast set_interval 5`.
 * A broadcast goes to every connected device (docs/original-devices.md §3); the answers that came
 * within --wait are printed, and `broadcast-answers` lists them all later.
 * Connects with MQTT_* (a service user) and DATABASE_URL, like the receiver.
 * Exit codes: 0 done (and answered ok), 1 answered with an error / expired / not sent, 2 usage or
 * configuration mistake, 3 answered, but the device's software does not report the outcome (the
 * original's reboot answer is sent before it reboots).
 */
import { systemClock } from '@iot/common/clock';
import { ConfigError, parseEnv, topicEnv, topicSchemeFrom, z } from '@iot/common/config';
import { createLogger } from '@iot/common/log';
import { checkMqttEnv, mqttConnection, mqttEnv } from '@iot/common/mqtt-env';
import { COMMANDS, type CommandName } from '@iot/common/protocol';
import mqtt from 'mqtt';
import { BROADCAST_COMMANDS, type CommandRequest, ControlError, DeviceControl } from '../control/device-control.ts';
import { openDatabase, parseDatabaseUrl } from '../db/index.ts';

const USAGE = `usage:
  device.ts command <device-id> <${COMMANDS.join('|')}> [key=value ...] [--ttl seconds] [--wait seconds]
  device.ts config <device-id> key=value [key=value ...]
  device.ts broadcast <${BROADCAST_COMMANDS.join('|')}> [key] [value] [--ttl seconds] [--wait seconds] [--yes-reboot-all-devices]
  device.ts broadcasts [--limit n]
  device.ts broadcast-answers <broadcast-id>`;

const VERBS = ['command', 'config', 'broadcast', 'broadcasts', 'broadcast-answers'] as const;
type Verb = (typeof VERBS)[number];
/** Flags without a value. */
const SWITCHES = new Set(['yes-reboot-all-devices']);

function fail(code: number, message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

/** How an answer went, in words, and the exit code for it. */
function outcome(state: string, ok: boolean | null): { outcome: string; exitCode: number } {
  if (state !== 'answered') return { outcome: state, exitCode: 1 };
  if (ok === null) return { outcome: 'received; outcome not reported by the device software', exitCode: 3 };
  return ok ? { outcome: 'ok', exitCode: 0 } : { outcome: 'failed', exitCode: 1 };
}

const [verbArg, ...argv] = process.argv.slice(2);
if (!(VERBS as readonly string[]).includes(verbArg ?? '')) fail(2, USAGE);
const verb = verbArg as Verb;

const flags = new Map<string, string>();
const positional: string[] = [];
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i]!;
  if (!arg.startsWith('--')) {
    positional.push(arg);
    continue;
  }
  const name = arg.slice(2);
  if (SWITCHES.has(name)) {
    flags.set(name, 'yes');
    continue;
  }
  const value = argv[++i];
  if (value === undefined) fail(2, `${arg} needs a value\n${USAGE}`);
  flags.set(name, value);
}
const seconds = (flag: string, fallback: number): number => {
  const value = Number(flags.get(flag) ?? fallback);
  if (!Number.isFinite(value) || value < 0) fail(2, `--${flag} must be a number of seconds`);
  return value;
};
const pairsOf = (args: readonly string[]): [string, string][] =>
  args.map((arg) => {
    const at = arg.indexOf('=');
    if (at <= 0) fail(2, `"${arg}" is not key=value\n${USAGE}`);
    return [arg.slice(0, at), arg.slice(at + 1)];
  });
const commandName = (name: string | undefined, known: readonly string[]): CommandName => {
  if (name === undefined || !known.includes(name.toLowerCase())) fail(2, `unknown command "${name ?? ''}"\n${USAGE}`);
  return name.toLowerCase() as CommandName;
};

/** `broadcast <command> [key] [value]`: set_interval takes its seconds as the one argument. */
function broadcastRequest(): CommandRequest {
  const [name, first, second] = positional;
  const command = commandName(name, BROADCAST_COMMANDS);
  if (command === 'set_interval') return { command, seconds: Number(first) };
  return { command, ...(first === undefined ? {} : { key: first }), ...(second === undefined ? {} : { value: second }) };
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
const print = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`);
};

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

async function run(): Promise<number> {
  switch (verb) {
    case 'config': {
      const [deviceId, ...rest] = positional;
      if (deviceId === undefined) fail(2, USAGE);
      print({ device: deviceId, version: await control.setDesiredConfig(deviceId, Object.fromEntries(pairsOf(rest))) });
      return 0;
    }
    case 'command': {
      const [deviceId, name, ...rest] = positional;
      if (deviceId === undefined) fail(2, USAGE);
      const command = commandName(name, COMMANDS);
      const args: Record<string, string | number> = {};
      for (const [key, value] of pairsOf(rest)) args[key] = key === 'count' || key === 'seconds' ? Number(value) : value;
      const id = await control.sendCommand(deviceId, { ...args, command }, { ttlSeconds: seconds('ttl', 300) });
      const answer = await control.waitForAnswer(id, seconds('wait', 15) * 1000);
      const result = outcome(answer.state, answer.ok);
      print({ id, ...answer, outcome: result.outcome });
      return result.exitCode;
    }
    case 'broadcast': {
      const id = await control.sendBroadcast(broadcastRequest(), {
        ttlSeconds: seconds('ttl', 300),
        confirmed: flags.get('yes-reboot-all-devices') === 'yes',
        createdBy: `cli:${config.MQTT_USERNAME ?? 'anonymous'}`,
      });
      // Nobody knows how many devices are listening: wait the given time, then show who answered.
      await systemClock.sleep(seconds('wait', 10) * 1000);
      print(await control.broadcast(id));
      return 0;
    }
    case 'broadcasts': {
      print({ broadcasts: await db.commands.broadcasts.list(Number(flags.get('limit') ?? 20)) });
      return 0;
    }
    case 'broadcast-answers': {
      const [id] = positional;
      if (id === undefined) fail(2, USAGE);
      const found = await control.broadcast(id);
      if (found === undefined) fail(1, `no broadcast "${id}"`);
      print(found);
      return 0;
    }
  }
}

let exitCode = 0;
try {
  exitCode = await run();
} catch (error) {
  if (!(error instanceof ControlError)) throw error;
  process.stderr.write(`${error.code}: ${error.message}\n`);
  exitCode = error.code === 'not_sent' ? 1 : 2;
} finally {
  await client.endAsync();
  await db.close();
}
process.exit(exitCode);
