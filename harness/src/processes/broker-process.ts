import { findFreePort } from './free-port.ts';
import { type ServiceProcess, startServiceProcess } from './service-process.ts';

/**
 * What a test needs from an MQTT broker, whichever one it is: our aedes service
 * ({@link BrokerProcess}) or Mosquitto (MosquittoServer). Both run as real OS processes on
 * loopback, on free ports, so a suite can swap them and fault injection is real.
 */
export interface Broker {
  /** `mqtt://127.0.0.1:<port>`, valid once started. */
  readonly url: string;
  readonly port: number;
  readonly running: boolean;
  /** Starts (or restarts on the same ports) and resolves once clients can connect. */
  start(): Promise<this>;
  /** Clean shutdown (SIGTERM). */
  stop(): Promise<void>;
  /** SIGKILL, as in a crash. */
  kill(): Promise<void>;
  /** SIGSTOP: sockets stay open, nothing answers. */
  freeze(): void;
  /** SIGCONT after {@link freeze}. */
  thaw(): void;
  /** Kills the process and removes what the handle created. */
  dispose(): Promise<void>;
}

export interface BrokerProcessOptions {
  /**
   * Env for the service beyond the listeners, e.g. MQTT_CREDENTIALS_FILE, MQTT_ALLOW_ANONYMOUS,
   * MQTT_MAX_PAYLOAD_BYTES, MQTT_TOPIC_*, LOG_LEVEL. MQTT_HOST and the ports are set here.
   */
  env?: Readonly<Record<string, string>>;
  /** TCP port; a free one when omitted. */
  port?: number;
  /** Adds a TLS listener on a free port with these PEM files. */
  tls?: { certFile: string; keyFile: string };
  /** Adds a WebSocket listener on a free port. */
  websocket?: boolean;
  readyTimeoutMs?: number;
  /** stdout/stderr of the service are appended here too. */
  logFile?: string;
}

/**
 * The backend's aedes broker service (backend/src/broker/main.ts) as an OS process started with
 * `startServiceProcess('mqttserver', env)`; ready when it logs `broker_ready`.
 */
export class BrokerProcess implements Broker {
  readonly host = '127.0.0.1';
  private readonly options: BrokerProcessOptions;
  private ports: { tcp: number; tls: number | undefined; ws: number | undefined } | undefined;
  private proc: ServiceProcess | undefined;

  constructor(options: BrokerProcessOptions = {}) {
    this.options = options;
  }

  get port(): number {
    return this.started().tcp;
  }

  get url(): string {
    return `mqtt://${this.host}:${this.port}`;
  }

  /** `mqtts://…` of the TLS listener (requires the `tls` option). */
  get tlsUrl(): string {
    const port = this.started().tls;
    if (port === undefined) throw new Error('BrokerProcess was created without the tls option');
    return `mqtts://${this.host}:${port}`;
  }

  /** `ws://…/mqtt` of the WebSocket listener (requires the `websocket` option). */
  get wsUrl(): string {
    const port = this.started().ws;
    if (port === undefined) throw new Error('BrokerProcess was created without the websocket option');
    return `ws://${this.host}:${port}/mqtt`;
  }

  get running(): boolean {
    return this.proc?.running ?? false;
  }

  /** The running service process: its parsed JSON log lines (`logs()`, `waitForLog`) for assertions. */
  get service(): ServiceProcess {
    if (this.proc === undefined) throw new Error('the broker has not been started');
    return this.proc;
  }

  async start(): Promise<this> {
    for (let attempt = 1; ; attempt++) {
      const ports = this.ports ?? (await this.choosePorts());
      const proc = startServiceProcess('mqttserver', this.env(ports), this.options.logFile === undefined ? {} : { logFile: this.options.logFile });
      try {
        await proc.waitForLog((r) => r.event === 'broker_ready', this.options.readyTimeoutMs ?? 15_000, 'the broker_ready log line');
        this.ports = ports;
        this.proc = proc;
        return this;
      } catch (error) {
        await proc.kill();
        // A port taken between probing and binding: try new ones, unless they were fixed already.
        const portTaken = proc.tail(40).includes('EADDRINUSE');
        if (!portTaken || this.ports !== undefined || this.options.port !== undefined || attempt >= 5) throw error;
      }
    }
  }

  async stop(): Promise<void> {
    await this.proc?.stop('SIGTERM');
  }

  async kill(): Promise<void> {
    await this.proc?.kill();
  }

  freeze(): void {
    this.proc?.freeze();
  }

  thaw(): void {
    this.proc?.thaw();
  }

  async dispose(): Promise<void> {
    await this.proc?.kill();
  }

  /** The service's last output lines, for failure messages. */
  output(): string {
    return this.proc?.tail(40) ?? '';
  }

  private started(): NonNullable<BrokerProcess['ports']> {
    if (this.ports === undefined) throw new Error('the broker has not been started');
    return this.ports;
  }

  private async choosePorts(): Promise<NonNullable<BrokerProcess['ports']>> {
    const tcp = this.options.port ?? (await findFreePort());
    const tls = this.options.tls === undefined ? undefined : await findFreePort();
    const ws = this.options.websocket === true ? await findFreePort() : undefined;
    return { tcp, tls, ws };
  }

  private env(ports: NonNullable<BrokerProcess['ports']>): NodeJS.ProcessEnv {
    return {
      ...this.options.env,
      MQTT_HOST: this.host,
      MQTT_PORT: String(ports.tcp),
      ...(ports.tls === undefined || this.options.tls === undefined
        ? {}
        : { MQTT_TLS_PORT: String(ports.tls), MQTT_TLS_CERTFILE: this.options.tls.certFile, MQTT_TLS_KEYFILE: this.options.tls.keyFile }),
      ...(ports.ws === undefined ? {} : { MQTT_WS_PORT: String(ports.ws) }),
    };
  }
}

export async function startBrokerProcess(options: BrokerProcessOptions = {}): Promise<BrokerProcess> {
  return new BrokerProcess(options).start();
}
