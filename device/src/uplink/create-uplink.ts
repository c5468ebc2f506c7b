import type { Clock } from '@iot/common/clock';
import type { Logger } from '@iot/common/log';
import { mqttConnection } from '@iot/common/mqtt-env';
import type { OriginalStamp, ReadingsBatch } from '@iot/common/protocol';
import type { Redis } from 'ioredis';
import { createRedisConnection } from '../redis-connection.ts';
import { CommandHandler } from './commands/index.ts';
import { type UplinkConfig, uplinkTopics } from './config.ts';
import { ConfigTwin } from './config-twin.ts';
import { BalenaSupervisorRebooter, CallbackRebooter, type Rebooter } from './rebooter.ts';
import { UplinkService } from './uplink-service.ts';

export interface CreateUplinkOptions {
  config: UplinkConfig;
  /** The shared device Redis connection (redis-connection.ts); the caller closes it. */
  redis: Redis;
  logger: Logger;
  clock: Clock;
  /**
   * What "reboot" does with simulated hardware: the separate service exits cleanly so its
   * supervisor restarts it; the all-in-one process restarts its device services in-process.
   * Must not wait for the uplink to stop (it is called from the uplink's command handling).
   */
  simulatedReboot: () => void;
  /** Test hooks for reconnect backoff and trim cadence; the defaults suit a device. */
  reconnectMinMs?: number;
  trimEveryMs?: number;
}

/** Wires the uplink from its config: blocking Redis connection, rebooter, command handler, config twin. */
export function createUplink(options: CreateUplinkOptions): UplinkService {
  const { config, redis, logger, clock } = options;
  const deviceMeta: OriginalStamp = {
    deviceId: config.BALENA_DEVICE_UUID,
    ...(config.BALENA_DEVICE_TYPE === undefined ? {} : { deviceType: config.BALENA_DEVICE_TYPE }),
    ...(config.BALENA_APP_ID === undefined ? {} : { appId: config.BALENA_APP_ID }),
    ...(config.BALENA_APP_NAME === undefined ? {} : { appName: config.BALENA_APP_NAME }),
  };
  const meta: NonNullable<ReadingsBatch['meta']> = {
    ...(deviceMeta.deviceType === undefined ? {} : { device_type: deviceMeta.deviceType }),
    ...(deviceMeta.appId === undefined ? {} : { app_id: deviceMeta.appId }),
    ...(deviceMeta.appName === undefined ? {} : { app_name: deviceMeta.appName }),
  };
  const commands = new CommandHandler({
    redis,
    logger,
    clock,
    rebooter: createRebooter(config, options.simulatedReboot, logger),
    publishValues: (readings) => uplink.publishValues(readings),
    deviceMeta,
  });
  const uplink: UplinkService = new UplinkService({
    deviceId: config.BALENA_DEVICE_UUID,
    ...(Object.keys(meta).length === 0 ? {} : { meta }),
    topics: uplinkTopics(config),
    connection: mqttConnection(config),
    protocolVersion: config.MQTT_PROTOCOL_VERSION,
    redis,
    blockingRedis: createRedisConnection(config, logger.child({ connection: 'blocking-read' })),
    commands,
    twin: new ConfigTwin({ redis, logger }),
    clock,
    logger,
    limits: { maxCount: config.UPLINK_BATCH_MAX_COUNT, maxBytes: config.UPLINK_BATCH_MAX_BYTES },
    window: config.UPLINK_WINDOW,
    ackTimeoutMs: config.UPLINK_ACK_TIMEOUT_SECONDS * 1000,
    history: config.UPLINK_HISTORY,
    statusIntervalMs: config.UPLINK_STATUS_SECONDS * 1000,
    defaultMeasurementIntervalSeconds: config.INTERVAL_SECONDS,
    ...(options.reconnectMinMs === undefined ? {} : { reconnectMinMs: options.reconnectMinMs }),
    ...(options.trimEveryMs === undefined ? {} : { trimEveryMs: options.trimEveryMs }),
  });
  return uplink;
}

/**
 * HARDWARE=pi reboots through the balena supervisor (docs/original-system.md §13); HARDWARE=sim and
 * HARDWARE=remote (simulated devices, with no supervisor) through the given callback. A Pi without
 * the supervisor variables (not under balena) answers reboot with an error instead of refusing to
 * start the uplink.
 */
export function createRebooter(config: UplinkConfig, simulatedReboot: () => void, logger: Logger): Rebooter {
  if (config.HARDWARE === 'sim' || config.HARDWARE === 'remote') return new CallbackRebooter(simulatedReboot);
  const address = config.BALENA_SUPERVISOR_ADDRESS;
  const apiKey = config.BALENA_SUPERVISOR_API_KEY;
  if (address !== undefined && apiKey !== undefined) return new BalenaSupervisorRebooter({ address, apiKey });
  logger.warn(
    { event: 'reboot_unavailable' },
    'BALENA_SUPERVISOR_ADDRESS and BALENA_SUPERVISOR_API_KEY are not set: the reboot command will fail on this device',
  );
  return new CallbackRebooter(() => {
    throw new Error('BALENA_SUPERVISOR_ADDRESS and BALENA_SUPERVISOR_API_KEY are not set: this device cannot reboot itself');
  });
}
