import { historyFromLogs, type RecordedReading } from '../checker/delivery-checker.ts';
import type { ContainerService } from '../docker/container-service.ts';
import { findFreePort } from '../processes/free-port.ts';
import { type ContainerScope, hostUser, SYSTEM_IMAGES, waitForRedis } from './container-scope.ts';
import type { Login } from './credentials.ts';
import { streamDrained } from './stream-drained.ts';
import type { DeviceRedis, DeviceUnderTest } from './under-test.ts';

export interface ContainerDeviceOptions {
  id: string;
  login: Login;
  intervalSeconds: number;
  /** The host directory bind-mounted as the device Redis's /data (its AOF, for the power cut). */
  redisDir: string;
  networks: { device: string; hardware: string; backend: string };
  sensors?: string;
  /** Extra env for the uplink container. */
  uplinkEnv?: Record<string, string>;
}

/** The device's Redis container: reached from the host on a port published on 127.0.0.1, its data dir on the host. */
export class ContainerRedis implements DeviceRedis {
  readonly host = '127.0.0.1';
  readonly port: number;
  readonly dir: string;
  readonly service: ContainerService;

  constructor(service: ContainerService, port: number, dir: string) {
    this.service = service;
    this.port = port;
    this.dir = dir;
  }

  kill(): Promise<void> {
    return this.service.kill();
  }

  async start(): Promise<void> {
    await this.service.start();
  }
}

/**
 * One simulated device as the balena app runs it (docker-compose.sim.yml, sim-1): its own Redis
 * container (`redis` on the device's network) and one container per service of the device image,
 * with HARDWARE=remote on the run's simulator container. The sensor and the uplink are separate
 * containers, so their logs are apart as the steps expect and a power cut kills each.
 */
export class ContainerDevice implements DeviceUnderTest {
  readonly id: string;
  readonly redis: ContainerRedis;
  readonly sensor: ContainerService;
  readonly uplink: ContainerService;
  readonly button = undefined;

  private constructor(scope: ContainerScope, options: ContainerDeviceOptions, redisPort: number) {
    this.id = options.id;
    const { device, hardware, backend } = options.networks;
    const user = hostUser();
    const redis = scope.service(
      `${options.id}-redis`,
      {
        image: SYSTEM_IMAGES.deviceRedis,
        networks: [{ network: device, aliases: ['redis'] }],
        publish: [{ containerPort: 6379, hostPort: redisPort }],
        mounts: [{ source: options.redisDir, target: '/data' }],
        ...(user === undefined ? {} : { user }),
      },
      { ready: (s) => waitForRedis(s, redisPort) },
    );
    this.redis = new ContainerRedis(redis, redisPort, options.redisDir);
    const common = {
      HARDWARE: 'remote',
      SIM_REMOTE_HOST: 'simulator',
      SIM_REMOTE_DEVICE: options.id,
      REDIS_HOST: 'redis',
      SENSORS: options.sensors ?? 'bme280@0x76',
      INTERVAL_SECONDS: String(options.intervalSeconds),
    };
    this.sensor = scope.service(`${options.id}-sensor`, {
      image: SYSTEM_IMAGES.device,
      command: ['node', 'device/src/sensor/main.ts'],
      env: common,
      networks: [{ network: device }, { network: hardware }],
    });
    this.uplink = scope.service(`${options.id}-mqtthandler`, {
      image: SYSTEM_IMAGES.device,
      command: ['node', 'device/src/uplink/main.ts'],
      env: {
        ...common,
        BALENA_DEVICE_UUID: options.id,
        MQTT_HOST: 'mqttserver',
        MQTT_PORT: '1883',
        MQTT_USERNAME: options.login.username,
        MQTT_PASSWORD: options.login.password,
        UPLINK_ACK_TIMEOUT_SECONDS: '2',
        UPLINK_STATUS_SECONDS: '5',
        ...options.uplinkEnv,
      },
      networks: [{ network: device }, { network: hardware }, { network: backend }],
    });
  }

  static async create(scope: ContainerScope, options: ContainerDeviceOptions): Promise<ContainerDevice> {
    return new ContainerDevice(scope, options, await findFreePort());
  }

  /** Creates the service containers (networks attached), so starting them later is quick. */
  async prepare(): Promise<void> {
    await Promise.all([this.redis.service.create(), this.sensor.create(), this.uplink.create()]);
  }

  /** The services, once Redis, the simulator and the broker serve. */
  async startServices(): Promise<void> {
    await Promise.all([this.sensor.start(), this.uplink.start()]);
  }

  controlSocket(): undefined {
    return undefined;
  }

  processes(): ContainerService[] {
    return [this.sensor, this.uplink];
  }

  startSensor(): Promise<ContainerService> {
    return this.sensor.start();
  }

  startUplink(): Promise<ContainerService> {
    return this.uplink.start();
  }

  /** Every reading any start of the sensor container recorded: its log holds every start's lines. */
  history(): RecordedReading[] {
    return historyFromLogs(this.id, this.sensor.logs());
  }

  stopSensor(): Promise<void> {
    return this.sensor.stop();
  }

  drained(timeoutMs: number): Promise<void> {
    return streamDrained(this.id, this.redis, timeoutMs, () => this.uplink.tail());
  }
}
