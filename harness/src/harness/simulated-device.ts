import type { RecordedReading } from '../checker/delivery-checker.ts';
import { historyFromLogs } from '../checker/delivery-checker.ts';
import { RedisServer } from '../processes/redis-server.ts';
import { type ServiceProcess, startServiceProcess } from '../processes/service-process.ts';
import type { Login } from './credentials.ts';
import { streamDrained } from './stream-drained.ts';
import type { DeviceUnderTest } from './under-test.ts';

export interface SimulatedDeviceOptions {
  id: string;
  /** Where the broker is, and this device's login. */
  mqtt: { port: number; login: Login };
  intervalSeconds?: number;
  sensors?: string;
  /** Extra env for the uplink, e.g. UPLINK_ACK_TIMEOUT_SECONDS. */
  uplinkEnv?: Record<string, string>;
  /** Also run the start/stop button service. */
  withButton?: boolean;
  /** BCM pin of the button (default 17). */
  buttonPin?: number;
  /** Directory for the simulation control sockets (one per service process); none = no control. */
  controlDir?: string;
  /**
   * `separate` (default): sensor, uplink (and button) as their own processes, as containers on a
   * Pi. `all-in-one`: one process with all services, lighter for a fleet on a laptop.
   */
  mode?: 'separate' | 'all-in-one';
  /** What the chips sense (SIM_ENVIRONMENT), e.g. `daily:600`. */
  environment?: string;
  logDir?: string;
}

/**
 * One simulated device as it runs on a Pi: its own redis-server (device redis.conf), the sensor
 * and the uplink as separate OS processes on simulated hardware. Restarted processes are kept, so
 * the history (every reading any sensor boot recorded) survives crashes.
 */
export class SimulatedDevice implements DeviceUnderTest {
  readonly id: string;
  readonly redis = new RedisServer();
  sensor: ServiceProcess | undefined;
  uplink: ServiceProcess | undefined;
  button: ServiceProcess | undefined;
  private readonly sensors: ServiceProcess[] = [];
  private readonly uplinks: ServiceProcess[] = [];
  private readonly buttons: ServiceProcess[] = [];
  private readonly options: SimulatedDeviceOptions;

  constructor(options: SimulatedDeviceOptions) {
    this.id = options.id;
    this.options = options;
  }

  async start(): Promise<this> {
    await this.redis.start();
    if (this.options.mode === 'all-in-one') {
      this.sensor = startServiceProcess(
        'device-all-in-one',
        { ...this.sensorEnv(), ...this.uplinkEnv(), BUTTON_PIN: String(this.options.buttonPin ?? 17) },
        this.options.logDir === undefined ? {} : { logFile: `${this.options.logDir}/${this.id}.log` },
      );
      this.uplink = this.sensor;
      this.sensors.push(this.sensor);
      return this;
    }
    this.startSensor();
    this.startUplink();
    if (this.options.withButton) this.startButton();
    return this;
  }

  /** The simulation control socket of one of this device's service processes. */
  controlSocket(service: 'sensor' | 'button'): string | undefined {
    return this.options.controlDir === undefined ? undefined : `${this.options.controlDir}/${this.id}-${service}.sock`;
  }

  startButton(): ServiceProcess {
    this.button = startServiceProcess('startstopbutton', {
      ...this.redisEnv(),
      ...this.controlEnv('button'),
      HARDWARE: 'sim',
      SENSORS: this.options.sensors ?? 'bme280@0x76',
      BUTTON_PIN: String(this.options.buttonPin ?? 17),
    });
    this.buttons.push(this.button);
    return this.button;
  }

  /** Every service process this device ran, restarted ones included. */
  processes(): ServiceProcess[] {
    return [...new Set([...this.sensors, ...this.uplinks, ...this.buttons])];
  }

  startSensor(): ServiceProcess {
    this.sensor = startServiceProcess('sensor', this.sensorEnv());
    this.sensors.push(this.sensor);
    return this.sensor;
  }

  startUplink(): ServiceProcess {
    this.uplink = startServiceProcess('mqtthandler', this.uplinkEnv());
    this.uplinks.push(this.uplink);
    return this.uplink;
  }

  /** Every reading any boot of this device's sensor recorded (Redis acknowledged its XADD). */
  history(): RecordedReading[] {
    return this.sensors.flatMap((sensor) => historyFromLogs(this.id, sensor.logs()));
  }

  /** Stops the sensor cleanly (it writes its shutdown marker) and returns how many readings it recorded. */
  async stopSensor(): Promise<void> {
    await this.sensor?.stop('SIGTERM');
  }

  /** Resolves once the backend confirmed everything up to the stream's end (backlog 0 in the status log). */
  drained(timeoutMs: number): Promise<void> {
    const uplink = this.uplink!;
    return streamDrained(this.id, this.redis, timeoutMs, () => uplink.tail());
  }

  async dispose(): Promise<void> {
    await Promise.all(this.processes().map((p) => p.kill()));
    await this.redis.dispose();
  }

  private sensorEnv(): Record<string, string> {
    return {
      ...this.redisEnv(),
      ...this.controlEnv('sensor'),
      HARDWARE: 'sim',
      SENSORS: this.options.sensors ?? 'bme280@0x76',
      INTERVAL_SECONDS: String(this.options.intervalSeconds ?? 0.1),
      ...(this.options.environment === undefined ? {} : { SIM_ENVIRONMENT: this.options.environment }),
    };
  }

  private uplinkEnv(): Record<string, string> {
    return {
      ...this.redisEnv(),
      HARDWARE: 'sim',
      BALENA_DEVICE_UUID: this.id,
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: String(this.options.mqtt.port),
      MQTT_USERNAME: this.options.mqtt.login.username,
      MQTT_PASSWORD: this.options.mqtt.login.password,
      UPLINK_ACK_TIMEOUT_SECONDS: '2',
      UPLINK_STATUS_SECONDS: '5',
      ...this.options.uplinkEnv,
    };
  }

  private controlEnv(service: 'sensor' | 'button'): Record<string, string> {
    const socket = this.controlSocket(service);
    return socket === undefined ? {} : { SIM_CONTROL_SOCKET: socket };
  }

  private redisEnv() {
    return { REDIS_HOST: this.redis.host, REDIS_PORT: String(this.redis.port) };
  }
}
