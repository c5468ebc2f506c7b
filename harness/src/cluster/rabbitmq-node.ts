import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Broker } from '../processes/broker-process.ts';
import { ManagedProcess } from '../processes/managed-process.ts';

/** The ports of one node, fixed for its life so that a restart after a kill is the same node. */
export interface RabbitMqNodePorts {
  mqtt: number;
  amqp: number;
  /** Erlang distribution: how the nodes of the cluster talk to each other. */
  dist: number;
}

export interface RabbitMqNodeSpec {
  /** The short node name; the Erlang node is `<name>@localhost`. */
  name: string;
  /** This node's directory: configuration, Mnesia and quorum-queue data, logs. */
  dir: string;
  ports: RabbitMqNodePorts;
  /** `rabbitmq.conf` lines shared by every node (cluster peers, MQTT settings). */
  sharedConf: readonly string[];
  /** The environment every Erlang process of the cluster shares (HOME with the cookie, epmd port). */
  erlangEnv: Readonly<Record<string, string>>;
  readyTimeoutMs: number;
}

/** Where Debian puts RabbitMQ's own scripts; /usr/sbin has wrappers that switch to the rabbitmq user. */
const RABBITMQ_BIN = '/usr/lib/rabbitmq/bin';

export function rabbitMqScript(name: 'rabbitmq-server' | 'rabbitmqctl'): string {
  const path = join(RABBITMQ_BIN, name);
  if (!existsSync(path)) throw new Error(`${path} not found: install it with: sudo apt-get install rabbitmq-server`);
  return path;
}

export function rabbitMqInstalled(): boolean {
  return existsSync(join(RABBITMQ_BIN, 'rabbitmq-server')) && existsSync(join(RABBITMQ_BIN, 'rabbitmqctl'));
}

/**
 * One RabbitMQ node of a {@link RabbitMqCluster}, on loopback, with the MQTT plugin. `kill()` is
 * SIGKILL of the Erlang VM itself, as in a crash; `start()` after it restarts the same node on the
 * same ports and data, and it rejoins its cluster by itself.
 */
export class RabbitMqNode implements Broker {
  readonly host = '127.0.0.1';
  readonly name: string;
  readonly dir: string;
  readonly ports: RabbitMqNodePorts;
  private readonly spec: RabbitMqNodeSpec;
  private proc: ManagedProcess | undefined;

  constructor(spec: RabbitMqNodeSpec) {
    this.spec = spec;
    this.name = spec.name;
    this.dir = spec.dir;
    this.ports = spec.ports;
    for (const sub of ['mnesia', 'log', 'plugins-expand']) mkdirSync(join(this.dir, sub), { recursive: true });
    writeFileSync(join(this.dir, 'rabbitmq.conf'), this.conf());
    writeFileSync(join(this.dir, 'advanced.config'), '[].\n');
    writeFileSync(join(this.dir, 'enabled_plugins'), '[rabbitmq_mqtt].\n');
    // Empty on purpose: the machine's /etc/rabbitmq/rabbitmq-env.conf belongs to its own RabbitMQ.
    writeFileSync(join(this.dir, 'rabbitmq-env.conf'), '');
  }

  /** The Erlang node name, as rabbitmqctl and cluster_status name it. */
  get nodeName(): string {
    return `${this.name}@localhost`;
  }

  get url(): string {
    return `mqtt://${this.host}:${this.ports.mqtt}`;
  }

  get port(): number {
    return this.ports.mqtt;
  }

  get running(): boolean {
    return this.proc?.running ?? false;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** What rabbitmqctl needs to reach this node: the same env without this node's own paths. */
  ctlEnv(): NodeJS.ProcessEnv {
    return { ...cleanEnv(), ...this.spec.erlangEnv, RABBITMQ_CONF_ENV_FILE: join(this.dir, 'rabbitmq-env.conf') };
  }

  /** Starts (or restarts) the node; resolves once it has booted with its MQTT listener. */
  async start(): Promise<this> {
    if (this.running) return this;
    const proc = new ManagedProcess({
      name: `rabbitmq:${this.name}`,
      command: rabbitMqScript('rabbitmq-server'),
      args: [],
      cwd: this.dir,
      env: this.env(),
      logFile: join(this.dir, 'stdout.log'),
    });
    this.proc = proc;
    try {
      // Printed once every boot step and plugin has run, the MQTT listener included.
      await proc.waitForLine((line) => /Starting broker\.\.\. completed/.test(line), this.spec.readyTimeoutMs, 'stdout');
    } catch (error) {
      await proc.kill();
      throw new Error(`RabbitMQ node ${this.nodeName} did not start: ${(error as Error).message}`);
    }
    return this;
  }

  /** Clean shutdown: the VM treats SIGTERM as `init:stop()`. */
  async stop(): Promise<void> {
    await this.proc?.stop('SIGTERM', 60_000);
  }

  /** SIGKILL of the VM, as in a crash. */
  async kill(): Promise<void> {
    await this.proc?.kill();
  }

  freeze(): void {
    this.proc?.freeze();
  }

  thaw(): void {
    this.proc?.thaw();
  }

  /** Kills the node; its directory belongs to the cluster, which removes it. */
  async dispose(): Promise<void> {
    if (this.proc?.running) this.proc.thaw();
    await this.proc?.kill();
  }

  /** The node's recent output, for failure messages. */
  output(): string {
    return this.proc?.tail(40) ?? '';
  }

  private conf(): string {
    const { mqtt, amqp } = this.ports;
    return [`listeners.tcp.default = ${this.host}:${amqp}`, `mqtt.listeners.tcp.default = ${this.host}:${mqtt}`, ...this.spec.sharedConf, ''].join('\n');
  }

  private env(): NodeJS.ProcessEnv {
    const dir = this.dir;
    return {
      ...this.ctlEnv(),
      RABBITMQ_NODENAME: this.nodeName,
      RABBITMQ_NODE_IP_ADDRESS: this.host,
      RABBITMQ_NODE_PORT: String(this.ports.amqp),
      RABBITMQ_DIST_PORT: String(this.ports.dist),
      RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(dir, 'log'),
      RABBITMQ_LOGS: join(dir, 'log', 'rabbit.log'),
      RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
      RABBITMQ_PLUGINS_EXPAND_DIR: join(dir, 'plugins-expand'),
      RABBITMQ_PID_FILE: join(dir, 'rabbit.pid'),
      // Distribution on loopback only, like every other server the harness starts.
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
      // The script then execs the VM instead of waiting on it as a child, so our child *is* the
      // node: SIGKILL crashes it, SIGSTOP freezes it.
      RUNNING_UNDER_SYSTEMD: 'true',
    };
  }
}

/** The caller's environment without RabbitMQ's and Erlang's variables, which would point elsewhere. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('RABBITMQ_') && !key.startsWith('ERL_')));
}
