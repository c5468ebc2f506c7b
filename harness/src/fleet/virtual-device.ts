import { systemClock } from '@iot/common/clock';
import { createLogger, type Logger } from '@iot/common/log';
import { type ButtonConfig, createButton, parseButtonConfig } from '@iot/device/button';
import { closeRedis, createRedisConnection } from '@iot/device/redis-connection';
import { createSensor, parseSensorConfig, type SensorConfig } from '@iot/device/sensor';
import { createUplink, parseUplinkConfig, type UplinkConfig } from '@iot/device/uplink';
import { createSimulatedHardware } from '@iot/simulator/hardware';
import type { DeviceObserver } from './device-observer.ts';
import type { DeviceSpec } from './messages.ts';

interface Generation {
  stopSensor(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/**
 * One virtual device: the device's own services (sensor on simulated BME280 chips, start/stop
 * button on simulated GPIO, uplink with acks, commands and the configuration twin), wired by the
 * device's public factories from the same variables a device is configured with, as the
 * all-in-one process does, in this process next to hundreds of others. Its log lines go to an
 * observer instead of stdout.
 */
export class VirtualDevice {
  private readonly sensorConfig: SensorConfig;
  private readonly buttonConfig: ButtonConfig;
  private readonly uplinkConfig: UplinkConfig;
  private readonly logger: Logger;
  private current: Generation | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private stopped = false;

  readonly spec: DeviceSpec;
  readonly observer: DeviceObserver;

  constructor(spec: DeviceSpec, options: { intervalSeconds: number; seed: number }, observer: DeviceObserver) {
    this.spec = spec;
    this.observer = observer;
    const env: NodeJS.ProcessEnv = {
      HARDWARE: 'sim',
      SENSORS: 'bme280@0x76',
      SIM_SEED: String((options.seed + spec.index) % 2 ** 31),
      INTERVAL_SECONDS: String(options.intervalSeconds),
      REDIS_HOST: spec.redis.host,
      REDIS_PORT: String(spec.redis.port),
      REDIS_DB: String(spec.redis.db),
      MQTT_HOST: spec.mqtt.host,
      MQTT_PORT: String(spec.mqtt.port),
      MQTT_USERNAME: spec.mqtt.username,
      MQTT_PASSWORD: spec.mqtt.password,
      BALENA_DEVICE_UUID: spec.id,
    };
    this.sensorConfig = parseSensorConfig(env);
    this.buttonConfig = parseButtonConfig(env);
    this.uplinkConfig = parseUplinkConfig(env);
    // Info for the sensor, debug for the uplink: its `cursor_advanced` lines say what was confirmed.
    this.logger = createLogger({ service: 'device', level: 'info', destination: observer });
  }

  start(): Promise<void> {
    return this.serially(async () => {
      this.current = await this.build();
      await this.current.start();
    });
  }

  /** Stops measuring (the sensor writes its shutdown marker); the uplink goes on sending. */
  stopSensor(): Promise<void> {
    return this.serially(async () => this.current?.stopSensor());
  }

  stop(): Promise<void> {
    return this.serially(async () => {
      this.stopped = true;
      await this.current?.stop();
      this.current = undefined;
    });
  }

  private serially(work: () => Promise<void>): Promise<void> {
    const run = this.chain.then(work);
    this.chain = run.catch((error: unknown) => this.logger.error({ event: 'fleet_device_failed', err: error }, 'a virtual device failed to start or stop'));
    return run;
  }

  /** The reboot command with simulated hardware: every service restarts, the sensor with a new boot id. */
  private readonly reboot = (): void => {
    void this.serially(async () => {
      if (this.stopped) return;
      this.logger.warn({ event: 'device_restarting' }, 'simulated reboot: restarting all device services');
      await this.current?.stop();
      this.current = await this.build();
      await this.current.start();
    });
  };

  private async build(): Promise<Generation> {
    const logger = this.logger;
    const hardware = await createSimulatedHardware({
      chips: this.sensorConfig.SENSORS.map((s) => ({ kind: s.kind, busNumber: this.sensorConfig.I2C_BUS, address: s.address })),
      seed: this.sensorConfig.SIM_SEED,
      environment: this.sensorConfig.SIM_ENVIRONMENT,
    });
    const redis = createRedisConnection(this.sensorConfig, logger);
    const sensor = await createSensor({ config: this.sensorConfig, hardware, redis, logger: logger.child({ component: 'sensor' }), clock: systemClock });
    const button = createButton({ config: this.buttonConfig, gpio: hardware.gpio, redis, logger: logger.child({ component: 'startstopbutton' }) });
    const uplink = createUplink({
      config: this.uplinkConfig,
      redis,
      logger: logger.child({ component: 'mqtthandler' }, { level: 'debug' }),
      clock: systemClock,
      simulatedReboot: this.reboot,
    });
    let sensorRunning = false;
    return {
      start: async () => {
        await button.start();
        await sensor.start();
        sensorRunning = true;
        await uplink.start();
      },
      stopSensor: async () => {
        if (!sensorRunning) return;
        sensorRunning = false;
        await button.stop();
        await sensor.stop();
      },
      stop: async () => {
        if (sensorRunning) {
          sensorRunning = false;
          await button.stop();
          await sensor.stop();
        }
        await uplink.stop();
        await closeRedis(redis);
        await hardware.close();
      },
    };
  }
}
