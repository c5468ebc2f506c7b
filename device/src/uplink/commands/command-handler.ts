import type { Clock } from '@iot/common/clock';
import type { Logger } from '@iot/common/log';
import {
  COMMANDS,
  type Command,
  type CommandName,
  type CommandResponse,
  checkConfigValue,
  isReadableConfigKey,
  type OriginalStamp,
  PROTOCOL_VERSION,
  READ_ONLY_CONFIG_KEYS,
  REDIS_KEY,
  REMOTE_CONFIG_KEYS,
} from '@iot/common/protocol';
import type { Redis } from 'ioredis';
import type { Rebooter } from '../rebooter.ts';
import { CommandRefusal, describeFailure, isTransient } from './command-errors.ts';
import type { CommandOutcome } from './command-outcome.ts';
import { parseCommand } from './parse-command.ts';
import { RecentCommands } from './recent-commands.ts';
import { measurementRange, type PublishValues, sendMeasurements } from './send-measurements.ts';

/** How many command ids are remembered to answer repeats without running them again. */
const REMEMBERED_COMMAND_IDS = 500;

export interface CommandHandlerOptions {
  redis: Redis;
  logger: Logger;
  clock: Clock;
  rebooter: Rebooter;
  /** Publishes one original-format readings message on the values topic (send_measurements). */
  publishValues: PublishValues;
  deviceMeta: OriginalStamp;
}

/** The answer's body without the fields every answer has. */
type Answer = Omit<CommandResponse, 'v' | 'id' | 'command' | 'ok'>;

/**
 * Runs commands from the request and broadcast topics (docs/configuration-twin.md §7, docs/original-system.md §12) and builds their answers.
 * The original's commands (no `v`, no `id`) still work and their answers keep the original's
 * fields (`command`, `key`, `value`); v1 commands add an id that the answer quotes, an expiry, and
 * `ok`/`error` in the answer. Nothing here throws: every failure is an answer with an error code
 * from COMMAND_ERRORS. Configuration is changed only through known keys with validated values
 * (docs/security.md §6) — the original wrote any key, its uplink cursor included.
 */
export class CommandHandler {
  private readonly redis: Redis;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly rebooter: Rebooter;
  private readonly publishValues: PublishValues;
  private readonly deviceMeta: OriginalStamp;
  private readonly recent = new RecentCommands({ capacity: REMEMBERED_COMMAND_IDS, shouldForget: (o) => isTransient(o.response.error?.code) });

  constructor(options: CommandHandlerOptions) {
    this.redis = options.redis;
    this.logger = options.logger;
    this.clock = options.clock;
    this.rebooter = options.rebooter;
    this.publishValues = options.publishValues;
    this.deviceMeta = options.deviceMeta;
  }

  /**
   * Handles one command payload and returns its answer plus, for reboot, the action to run once
   * the answer has been published, which is how the uplink runs it (uplink-service.ts runCommand):
   * `const o = await h.execute(p); await publish(o.response); await o.afterResponse?.()`. A device
   * that rebooted first would never answer. A repeated command id returns the first answer and no
   * action. Never rejects; `afterResponse` never rejects either (a failed reboot is logged).
   */
  async execute(payload: Buffer): Promise<CommandOutcome> {
    const parsed = parseCommand(payload);
    if (!parsed.ok) {
      this.logOutcome(parsed.response, false);
      return { response: parsed.response };
    }
    const command = parsed.command;
    if (command.id === undefined) {
      const outcome = await this.run(command);
      this.logOutcome(outcome.response, false);
      return outcome;
    }
    const outcome = await this.recent.once(command.id, () => this.run(command));
    this.logOutcome(outcome.response, outcome.repeated);
    return outcome.afterResponse === undefined ? { response: outcome.response } : { response: outcome.response, afterResponse: outcome.afterResponse };
  }

  private async run(command: Command): Promise<CommandOutcome> {
    const name = command.command.toLowerCase();
    const head: Pick<CommandResponse, 'v' | 'id' | 'command'> = { v: PROTOCOL_VERSION, ...(command.id === undefined ? {} : { id: command.id }), command: name };
    try {
      if (!isCommandName(name)) {
        throw new CommandRefusal('unknown_command', `unknown command "${command.command}"; known commands: ${COMMANDS.join(', ')}`);
      }
      if (command.expires_at !== undefined && command.expires_at < this.clock.now()) {
        throw new CommandRefusal('expired', `command expired at ${new Date(command.expires_at).toISOString()} (device time ${new Date(this.clock.now()).toISOString()}) and was not run`);
      }
      if (name === 'reboot') return { response: { ...head, ok: true }, afterResponse: () => this.reboot(command.id) };
      const answer = await this.answer(name, command);
      return { response: { ...head, ok: true, ...answer } };
    } catch (error) {
      const { code, message } = describeFailure(error);
      const key = typeof command.key === 'string' ? { key: command.key } : {};
      return { response: { ...head, ok: false, ...key, error: { code, message } } };
    }
  }

  private async answer(name: Exclude<CommandName, 'reboot'>, command: Command): Promise<Answer> {
    switch (name) {
      case 'get_config':
        return this.getConfig(command);
      case 'set_config':
        return this.setConfig(requireKey(command), command.value);
      case 'start_measurement':
        return this.setConfig(REDIS_KEY.measurementEnabled, '1');
      case 'stop_measurement':
        return this.setConfig(REDIS_KEY.measurementEnabled, '0');
      case 'set_interval':
        return this.setConfig(REDIS_KEY.measurementInterval, command.seconds);
      case 'send_measurements': {
        const range = measurementRange(command);
        const result = await sendMeasurements({ redis: this.redis, range, meta: this.deviceMeta, publishValues: this.publishValues });
        return { result };
      }
    }
  }

  /** get_config answers `{ key, value }` as the original did; `value` is null when the key is not set (the service uses its default). */
  private async getConfig(command: Command): Promise<Answer> {
    const key = requireKey(command);
    if (!isReadableConfigKey(key)) {
      throw new CommandRefusal('unknown_key', `unknown key "${key}"; readable keys: ${[...REMOTE_CONFIG_KEYS, ...READ_ONLY_CONFIG_KEYS].join(', ')}`);
    }
    return { key, value: await this.redis.get(key) };
  }

  /** Writes a validated, normalised value and echoes `{ key, value }` as the original's set_config did. */
  private async setConfig(key: string, value: unknown): Promise<Answer> {
    const check = checkConfigValue(key, value);
    if (!check.ok) throw new CommandRefusal(check.code, check.message);
    await this.redis.set(key, check.value);
    return { key, value: check.value };
  }

  private async reboot(id: string | undefined): Promise<void> {
    this.logger.warn({ event: 'reboot_requested', id }, 'rebooting on command');
    try {
      await this.rebooter.reboot();
    } catch (error) {
      // The answer already said ok: the log is where this failure shows.
      this.logger.error({ event: 'reboot_failed', id, err: { message: error instanceof Error ? error.message : String(error) } }, 'reboot failed');
    }
  }

  private logOutcome(response: CommandResponse, repeated: boolean): void {
    const fields = { event: 'command_handled', command: response.command, id: response.id, ok: response.ok, code: response.error?.code, repeated };
    if (response.ok) this.logger.info(fields, repeated ? 'repeated command answered from memory' : 'command handled');
    else this.logger.warn({ ...fields, reason: response.error?.message }, 'command refused');
  }
}

function isCommandName(name: string): name is CommandName {
  return (COMMANDS as readonly string[]).includes(name);
}

function requireKey(command: Command): string {
  if (command.key === undefined || command.key === '') {
    throw new CommandRefusal('invalid_command', `${command.command.toLowerCase()} needs a "key", e.g. {"command":"get_config","key":"measurement:interval"}`);
  }
  return command.key;
}
