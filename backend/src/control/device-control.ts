import { randomUUID } from 'node:crypto';
import type { Clock } from '@iot/common/clock';
import type { Logger } from '@iot/common/log';
import {
  checkConfigValue,
  COMMANDS,
  type CommandName,
  type DesiredConfig,
  PROTOCOL_VERSION,
  REDIS_KEY,
  type TopicScheme,
} from '@iot/common/protocol';
import type { MqttClient } from 'mqtt';
import type { BroadcastAnswer, BroadcastRecord } from '../db/broadcast-store.ts';
import type { Database } from '../db/index.ts';

/** A command for a device: its name and arguments as the protocol defines them. */
export interface CommandRequest {
  command: CommandName;
  key?: string;
  value?: string | number;
  seconds?: number;
  min_id?: string;
  max_id?: string;
  count?: number;
}

/** A request refused before anything was sent: a person's mistake, with what to do. */
export class ControlError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'ControlError';
    this.code = code;
  }
}

/**
 * What operators do to devices (CLI today, web admin later): one-off commands with ids, answers
 * and an expiry, and the versioned desired configuration (docs/configuration-twin.md §2, §8). Commands are recorded
 * before they are published, so none is ever sent without a trace.
 */
export class DeviceControl {
  private readonly db: Database;
  private readonly mqtt: MqttClient;
  private readonly topics: TopicScheme;
  private readonly clock: Clock;
  private readonly logger: Logger;

  constructor(options: { db: Database; mqtt: MqttClient; topics: TopicScheme; clock: Clock; logger: Logger }) {
    this.db = options.db;
    this.mqtt = options.mqtt;
    this.topics = options.topics;
    this.clock = options.clock;
    this.logger = options.logger;
  }

  /**
   * Records and sends a command; resolves with its id once the broker has it (state `delivered`).
   * Devices of the original system get the original format (no id, no expiry); their answer is
   * matched by command name.
   */
  async sendCommand(deviceId: string, request: CommandRequest, options: { ttlSeconds?: number } = {}): Promise<string> {
    if (!COMMANDS.includes(request.command)) {
      throw new ControlError('unknown_command', `unknown command "${request.command}"; known: ${COMMANDS.join(', ')}`);
    }
    if (request.command === 'set_config') {
      const check = checkConfigValue(request.key ?? '', request.value);
      if (!check.ok) throw new ControlError(check.code, check.message);
    }
    const device = await this.db.devices.getDevice(deviceId);
    if (device === undefined) throw new ControlError('unknown_device', `no device "${deviceId}" has been seen yet`);
    const original = device.protocol === 'original';
    const sent = original ? originalCommand(request) : request;
    const id = randomUUID();
    const now = this.clock.now();
    const expiresAt = now + (options.ttlSeconds ?? 300) * 1000;
    // The history shows what was sent; `requested` keeps what the operator asked for when it differs.
    const args = sent === request ? { ...request } : { ...sent, requested: request.command };
    await this.db.commands.create({ id, deviceId, command: sent.command, args, createdAt: now, expiresAt });
    const message = original ? { ...sent } : { v: PROTOCOL_VERSION, id, ...request, expires_at: expiresAt };
    try {
      await this.mqtt.publishAsync(this.topics.topic('request', deviceId), JSON.stringify(message), { qos: 1 });
      await this.db.commands.markDelivered(id, this.clock.now());
    } catch (error) {
      await this.db.commands.markFailed(id, (error as Error).message, this.clock.now());
      throw new ControlError('not_sent', `the broker did not take the command: ${(error as Error).message}`);
    }
    this.logger.info({ event: 'command_sent', device: deviceId, id, command: request.command }, 'command sent');
    return id;
  }

  /**
   * Records and publishes a command to every device on the broadcast topic (docs/original-devices.md §3);
   * resolves with its id once the broker has it. Each device's answer is stored against it by
   * the receiver, one row per device.
   */
  async sendBroadcast(request: CommandRequest, options: { ttlSeconds?: number; confirmed?: boolean; createdBy?: string } = {}): Promise<string> {
    const sent = broadcastMessage(request, options.confirmed === true);
    const id = randomUUID();
    const now = this.clock.now();
    const args = sent.command === request.command ? { ...sent } : { ...sent, requested: request.command };
    await this.db.commands.broadcasts.create({ id, command: sent.command, args, createdAt: now, expiresAt: now + (options.ttlSeconds ?? 300) * 1000, createdBy: options.createdBy ?? null });
    try {
      await this.mqtt.publishAsync(this.topics.topic('broadcast', ''), JSON.stringify(sent), { qos: 1 });
      await this.db.commands.broadcasts.markSent(id, this.clock.now());
    } catch (error) {
      await this.db.commands.broadcasts.markFailed(id, (error as Error).message);
      throw new ControlError('not_sent', `the broker did not take the broadcast: ${(error as Error).message}`);
    }
    this.logger.info({ event: 'broadcast_sent', id, command: sent.command, requested: request.command, by: options.createdBy }, 'command broadcast to every device');
    return id;
  }

  /** A broadcast with every answer so far; undefined when there is none with that id. */
  async broadcast(id: string): Promise<{ broadcast: BroadcastRecord; answers: BroadcastAnswer[] } | undefined> {
    return this.db.commands.broadcasts.detail(id);
  }

  /**
   * Stores a new desired configuration version and publishes it retained, so the device gets it
   * now or when it next connects. Unknown keys and bad values are refused, all reported together.
   */
  async setDesiredConfig(deviceId: string, config: Record<string, string>): Promise<number> {
    if ((await this.db.devices.getDevice(deviceId))?.protocol === 'original') {
      throw new ControlError('not_supported', `device "${deviceId}" speaks the original protocol, which has no configuration twin; send set_config commands instead`);
    }
    const normalised: Record<string, string> = {};
    const problems: string[] = [];
    for (const [key, value] of Object.entries(config)) {
      const check = checkConfigValue(key, value);
      if (check.ok) normalised[key] = check.value;
      else problems.push(check.message);
    }
    if (problems.length > 0) throw new ControlError('invalid_config', problems.join('; '));
    if (Object.keys(normalised).length === 0) throw new ControlError('invalid_config', 'a desired configuration needs at least one key');
    const { version } = await this.db.configs.setDesired(deviceId, normalised, this.clock.now());
    const message: DesiredConfig = { v: PROTOCOL_VERSION, version, config: normalised };
    await this.mqtt.publishAsync(this.topics.topic('configDesired', deviceId), JSON.stringify(message), { qos: 1, retain: true });
    this.logger.info({ event: 'desired_config_set', device: deviceId, version }, 'desired configuration published');
    return version;
  }

  /** Waits until the command is answered or expired (polling the database), for CLIs and tests. */
  async waitForAnswer(id: string, timeoutMs: number): Promise<{ state: string; ok: boolean | null; response: unknown }> {
    const deadline = this.clock.now() + timeoutMs;
    for (;;) {
      const command = await this.db.commands.get(id);
      if (command !== undefined && (command.state === 'answered' || command.state === 'expired' || command.state === 'failed')) {
        return { state: command.state, ok: command.ok, response: command.response };
      }
      if (this.clock.now() > deadline) return { state: command?.state ?? 'unknown', ok: null, response: null };
      await this.clock.sleep(100);
    }
  }
}

/**
 * The original firmware knows reboot, get_config, set_config and send_measurements only
 * (docs/original-system.md §12). Start, stop and interval are Redis keys there, so they become set_config of
 * `measurement:enabled` and `measurement:interval`: the same effect the v1 commands have.
 */
export function originalCommand(request: CommandRequest): CommandRequest {
  switch (request.command) {
    case 'start_measurement':
      return { command: 'set_config', key: REDIS_KEY.measurementEnabled, value: '1' };
    case 'stop_measurement':
      return { command: 'set_config', key: REDIS_KEY.measurementEnabled, value: '0' };
    case 'set_interval': {
      const check = checkConfigValue(REDIS_KEY.measurementInterval, request.seconds);
      if (!check.ok) throw new ControlError('invalid_value', `seconds: ${check.message}`);
      return { command: 'set_config', key: REDIS_KEY.measurementInterval, value: check.value };
    }
    default:
      return request;
  }
}

/**
 * Commands that may go to every device at once (docs/original-devices.md §3). send_measurements
 * may not: every device would re-send up to its whole backlog at the same moment, and the
 * original answers it on `values` with no id, which cannot be told apart across a fleet.
 */
export const BROADCAST_COMMANDS: readonly CommandName[] = ['get_config', 'set_config', 'start_measurement', 'stop_measurement', 'set_interval', 'reboot'];

/**
 * The message every device gets on the broadcast topic, in the original format (no `v`, `id` or
 * `expires_at`): original devices know only that form and share the topic with v1 devices, which
 * answer it as well (docs/protocol.md §7). Start, stop and interval become set_config as for one
 * original device; set_config values are checked and normalised here, so every device echoes the
 * same text. A reboot of the whole fleet needs `confirmed`.
 */
export function broadcastMessage(request: CommandRequest, confirmed: boolean): CommandRequest {
  if (!BROADCAST_COMMANDS.includes(request.command)) {
    throw new ControlError('not_broadcastable', `"${request.command}" cannot be broadcast; broadcast commands: ${BROADCAST_COMMANDS.join(', ')}`);
  }
  if (request.command === 'reboot' && !confirmed) {
    throw new ControlError('confirmation_required', 'rebooting every device at once needs an explicit confirmation (CLI --yes-reboot-all-devices, API "confirm": true)');
  }
  const sent = originalCommand(request);
  if (sent.command === 'get_config') {
    if (sent.key === undefined || sent.key === '') throw new ControlError('invalid_command', 'get_config needs a key');
    return { command: 'get_config', key: sent.key };
  }
  if (sent.command === 'set_config') {
    const check = checkConfigValue(sent.key ?? '', sent.value);
    if (!check.ok) throw new ControlError(check.code, check.message);
    return { command: 'set_config', key: sent.key ?? '', value: check.value };
  }
  return { command: sent.command };
}
