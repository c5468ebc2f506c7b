import { join } from 'node:path';
import { REDIS_KEY, TopicScheme } from '@iot/common/protocol';
import { Redis } from 'ioredis';
import { TcpProxy } from '../faults/tcp-proxy.ts';
import { ManagedProcess } from '../processes/managed-process.ts';
import { RedisServer } from '../processes/redis-server.ts';
import { makeTempDir } from '../processes/temp-dir.ts';
import type { OriginalSoftware } from './original-software.ts';
import { type StreamEntry, toStreamEntries } from './stream-entry.ts';

export interface OriginalPythonDeviceOptions {
  software: OriginalSoftware;
  /** BALENA_DEVICE_UUID: fills the topics and is stamped on every reading. */
  deviceId: string;
  /** The broker, reached through this device's own TcpProxy so a test can partition it. */
  broker: { host?: string; port: number };
  login: { username: string; password: string };
  /** The sensor's INTERVAL_SECONDS (the original's default is 2). */
  sensorIntervalSeconds?: number;
  /** The mqtthandler's INTERVAL_SECONDS (the original's default is 1). */
  senderIntervalSeconds?: number;
  /** MQTT_KEEPALIVE_SECONDS: how soon paho notices a silent partition (the original's default is 60). */
  keepaliveSeconds?: number;
  /** BALENA_SUPERVISOR_ADDRESS and its API key, for the reboot script (docs/original-system.md §13). */
  supervisor?: { address: string; apiKey: string };
  /** Start the sensor (default true); a test can fill the stream itself instead. */
  sensor?: boolean;
}

/** The two original services this harness runs. */
export type OriginalService = 'sensor' | 'mqtthandler';

/** What the original sensor logs when it notices `measurement:enabled` change. */
const SENSOR_PAUSED = 'Messung wird unterbrochen';
const SENSOR_RESUMED = 'Messung wird fortgeführt';

/** What the original mqtthandler logs when it notices `mqtt_sender:enabled` turn "0". */
const SENDER_PAUSED = 'Versand wird unterbrochen';

/** What paho's on_connect logs for an accepted CONNECT ("Verbindung hergestellt"). */
const CONNECTED_LINE = /MQTT-Broker: Verbindung hergestellt/;

/**
 * A device running the original Python software unchanged (docs/original-devices.md §5): its own
 * redis-server, the original `sensor` and `mqtthandler` apps as child processes of the Python
 * interpreter, configured only through the environment variables the original reads, each given
 * its own `app.conf` as argv[1]. The mqtthandler reaches the broker through a {@link TcpProxy}.
 * Output lines of every process started are kept, restarts included.
 */
export class OriginalPythonDevice {
  readonly id: string;
  readonly redisServer: RedisServer;
  readonly proxy: TcpProxy;
  sensor: ManagedProcess | undefined;
  mqtthandler: ManagedProcess | undefined;
  /** Every process started, in order, for diagnostics. */
  readonly processes: ManagedProcess[] = [];
  private readonly options: OriginalPythonDeviceOptions;
  private readonly dir = makeTempDir('original-device');
  private client: Redis | undefined;

  constructor(options: OriginalPythonDeviceOptions) {
    this.id = options.deviceId;
    this.options = options;
    const redisConf = options.software.redisConf;
    // The original's redis.conf, but never its fixed /tmp/redis.sock, shared by every test run.
    this.redisServer = new RedisServer({
      dir: this.dir.path,
      ...(redisConf === undefined ? {} : { configFile: redisConf }),
      overrides: { unixsocket: join(this.dir.path, 'redis.sock') },
    });
    this.proxy = new TcpProxy({ targetHost: options.broker.host ?? '127.0.0.1', targetPort: options.broker.port });
  }

  async start(): Promise<this> {
    await this.redisServer.start();
    await this.proxy.start();
    if (this.options.sensor ?? true) this.startSensor();
    this.startMqtthandler();
    return this;
  }

  /** A client of the device's Redis, as any other service on the device would use it. */
  get redis(): Redis {
    this.client ??= new Redis({ host: this.redisServer.host, port: this.redisServer.port, maxRetriesPerRequest: 3 });
    return this.client;
  }

  startSensor(): ManagedProcess {
    this.sensor = this.spawn('sensor', this.options.software.sensorApp, this.options.software.sensorConf, {
      INTERVAL_SECONDS: String(this.options.sensorIntervalSeconds ?? 0.1),
    });
    return this.sensor;
  }

  startMqtthandler(): ManagedProcess {
    const supervisor = this.options.supervisor;
    this.mqtthandler = this.spawn('mqtthandler', this.options.software.mqtthandlerApp, this.options.software.mqtthandlerConf, {
      INTERVAL_SECONDS: String(this.options.senderIntervalSeconds ?? 0.2),
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: String(this.proxy.port),
      MQTT_USERNAME: this.options.login.username,
      MQTT_PASSWORD: this.options.login.password,
      MQTT_KEEPALIVE_SECONDS: String(this.options.keepaliveSeconds ?? 2),
      BALENA_DEVICE_UUID: this.id,
      BALENA_DEVICE_TYPE: 'raspberrypi4-64',
      BALENA_APP_ID: '1829540',
      BALENA_APP_NAME: 'compat-test',
      ...(supervisor === undefined ? {} : { BALENA_SUPERVISOR_ADDRESS: supervisor.address, BALENA_SUPERVISOR_API_KEY: supervisor.apiKey }),
    });
    return this.mqtthandler;
  }

  /** SIGTERM: the interpreter exits without its `finally` (no clean MQTT disconnect). */
  async stopMqtthandler(): Promise<void> {
    await this.mqtthandler?.stop('SIGTERM', 5000);
  }

  /** SIGKILL: paho's queue of unacknowledged messages dies with the process, as on a power cut. */
  async killMqtthandler(): Promise<void> {
    await this.mqtthandler?.kill();
  }

  async restartMqtthandler(): Promise<ManagedProcess> {
    await this.stopMqtthandler();
    return this.startMqtthandler();
  }

  async stopSensor(): Promise<void> {
    await this.sensor?.stop('SIGTERM', 5000);
  }

  /** Cuts the mqtthandler's network silently (no FIN, no reset) until {@link heal}. */
  partition(): void {
    this.proxy.partition();
  }

  heal(): void {
    this.proxy.heal();
  }

  /**
   * Measuring on or off through the key the original sensor reads every cycle (docs/original-system.md
   * §4). Resolves once the running sensor logged the change, so after pausing, the stream holds
   * everything it will measure: a cycle that read the key just before the write measures once more.
   */
  async setMeasuring(enabled: boolean, timeoutMs = 15_000): Promise<void> {
    const sensor = this.sensor;
    const changes = () => {
      const lines = sensor?.stderrLines ?? [];
      return { paused: lines.filter((l) => l.includes(SENSOR_PAUSED)).length, resumed: lines.filter((l) => l.includes(SENSOR_RESUMED)).length };
    };
    const before = changes();
    // The sensor starts measuring and logs only changes of its state.
    const measuringNow = before.resumed >= before.paused;
    await this.redis.set(REDIS_KEY.measurementEnabled, enabled ? '1' : '0');
    if (sensor === undefined || !sensor.running || measuringNow === enabled) return;
    await sensor.waitFor(
      () => {
        const now = changes();
        return (enabled ? now.resumed > before.resumed : now.paused > before.paused) ? true : undefined;
      },
      timeoutMs,
      `the original sensor to log that measuring is ${enabled ? 'on' : 'off'}`,
    );
  }

  /**
   * Sending on or off through the key the original mqtthandler reads every cycle (docs/original-system.md
   * §5). Pausing resolves once the running mqtthandler logged it, so it publishes nothing more.
   */
  async setSending(enabled: boolean, timeoutMs = 15_000): Promise<void> {
    const handler = this.mqtthandler;
    const paused = () => (handler?.stderrLines ?? []).filter((l) => l.includes(SENDER_PAUSED)).length;
    const before = paused();
    await this.redis.set(REDIS_KEY.senderEnabled, enabled ? '1' : '0');
    if (enabled || handler === undefined || !handler.running) return;
    await handler.waitFor(() => (paused() > before ? true : undefined), timeoutMs, 'the original mqtthandler to log that sending is off');
  }

  /** What was measured: the whole stream, as XRANGE gives it. */
  async streamEntries(): Promise<StreamEntry[]> {
    return toStreamEntries(await this.redis.xrange(REDIS_KEY.values, '-', '+'));
  }

  /** The mqtthandler's cursor, `(<id>` once it sent something (docs/original-system.md §5). */
  async cursor(): Promise<string | null> {
    return this.redis.get(REDIS_KEY.senderLastId);
  }

  /** How many times the current mqtthandler's paho client was admitted by the broker. */
  connections(): number {
    return this.linesOf(this.mqtthandler).filter((line) => CONNECTED_LINE.test(line)).length;
  }

  /** Resolves once the current mqtthandler has been admitted `count` times. */
  async connected(count = 1, timeoutMs = 20_000): Promise<void> {
    const handler = this.mqtthandler;
    if (handler === undefined) throw new Error('the mqtthandler has not been started');
    await handler.waitFor(() => (this.connections() >= count ? true : undefined), timeoutMs, `the original mqtthandler to connect (${count})`);
  }

  /**
   * Resolves once the current mqtthandler takes commands. Its on_connect logs the accepted CONNECT
   * before the broker has its SUBSCRIBE, and the original subscribes at QoS 0 with a clean session,
   * so a command sent in between is lost: `publish` (an operator's client) sends an unknown command
   * until the original logs it, which changes nothing on the device (docs/original-system.md §12).
   */
  async listening(publish: (topic: string, payload: string) => Promise<unknown>, timeoutMs = 20_000): Promise<void> {
    const handler = this.mqtthandler;
    if (handler === undefined) throw new Error('the mqtthandler has not been started');
    const probe = `compat_probe_${handler.pid ?? 0}`;
    const heard = () => handler.stderrLines.some((line) => line.includes(`Unbekanntes Kommando: ${probe.toUpperCase()}`));
    const deadline = Date.now() + timeoutMs;
    while (!heard()) {
      if (!handler.running || Date.now() > deadline) throw new Error(`the original mqtthandler did not take commands within ${timeoutMs} ms\n${this.diagnostics()}`);
      await publish(new TopicScheme().topic('request', this.id), JSON.stringify({ command: probe }));
      await handler.waitFor(() => (heard() ? true : undefined), 200, 'the probe command').catch(() => {});
    }
  }

  /** Output lines of one of the current processes (the original logs to stderr). */
  lines(service: OriginalService): string[] {
    return this.linesOf(service === 'sensor' ? this.sensor : this.mqtthandler);
  }

  /** The last lines of every process started, for a failing test's message. */
  diagnostics(count = 15): string {
    return this.processes.map((p) => `--- ${p.name} (${p.running ? 'running' : 'exited'})\n${p.tail(count)}`).join('\n');
  }

  async dispose(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.kill()));
    this.client?.disconnect();
    await this.proxy.close();
    await this.redisServer.dispose();
    this.dir.remove();
  }

  private linesOf(process: ManagedProcess | undefined): string[] {
    return process === undefined ? [] : [...process.stdoutLines, ...process.stderrLines];
  }

  private spawn(service: OriginalService, app: string, conf: string, env: Record<string, string>): ManagedProcess {
    const child = new ManagedProcess({
      name: `original-${service}:${this.id}`,
      command: this.options.software.python,
      args: [app, conf],
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        // Output line by line as it happens; the original's code is not touched.
        PYTHONUNBUFFERED: '1',
        REDIS_HOST: this.redisServer.host,
        REDIS_PORT: String(this.redisServer.port),
        REDIS_DB: '0',
        ...env,
      },
      logFile: join(this.dir.path, `${service}.log`),
    });
    this.processes.push(child);
    return child;
  }
}
