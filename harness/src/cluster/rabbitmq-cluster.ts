import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TopicScheme } from '@iot/common/protocol';
import { findFreePort } from '../processes/free-port.ts';
import { ManagedProcess } from '../processes/managed-process.ts';
import { makeTempDir } from '../processes/temp-dir.ts';
import { rabbitMqTopicPermissions } from './rabbitmq-permissions.ts';
import { RabbitMqNode, rabbitMqScript } from './rabbitmq-node.ts';

const run = promisify(execFile);

/** A service user has every topic; a device user only its own (docs/security.md §3). */
export type RabbitMqUser = { username: string; password: string; role: 'service' } | { username: string; password: string; role: 'device'; deviceId: string };

export interface RabbitMqClusterOptions {
  /** Number of nodes; 3 by default, the smallest cluster whose quorum queues survive losing one. */
  nodes?: number;
  /** Users created once the cluster has formed; more can be added with {@link RabbitMqCluster.addUser}. */
  users?: readonly RabbitMqUser[];
  /** The topic templates device permissions are rendered from; the defaults when omitted. */
  topics?: TopicScheme;
  /** How long one node may take to boot; 120 s by default (a loaded 2-core machine is slow). */
  readyTimeoutMs?: number;
}

/**
 * A RabbitMQ cluster (the Debian `rabbitmq-server` with its MQTT plugin) of N nodes on loopback,
 * on free ports, in one temp directory, with its own epmd and Erlang cookie, so that it never
 * meets the machine's own RabbitMQ (5672, epmd on 4369). Sessions of MQTT clients with
 * CleanSession 0 live in quorum queues, replicated on every node, so a receiver's session survives
 * the loss of a node. Nodes are killed and restarted one by one through {@link nodes}; a restarted
 * node rejoins by itself. Why this engine and what it cannot do (no MQTT 5, no shared
 * subscriptions, retained messages per node): docs/clustered-broker.md §4.
 */
export class RabbitMqCluster {
  readonly dir: string;
  readonly nodes: readonly RabbitMqNode[];
  private readonly topics: TopicScheme;
  private readonly removeDir: () => void;
  private readonly epmd: ManagedProcess;

  private constructor(dir: { path: string; remove(): void }, nodes: RabbitMqNode[], epmd: ManagedProcess, topics: TopicScheme) {
    this.dir = dir.path;
    this.removeDir = dir.remove;
    this.nodes = nodes;
    this.epmd = epmd;
    this.topics = topics;
  }

  /** Starts every node, waits until all of them run as one cluster, then creates the users. */
  static async start(options: RabbitMqClusterOptions = {}): Promise<RabbitMqCluster> {
    const count = options.nodes ?? 3;
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`a RabbitMQ cluster needs at least 1 node, not ${count}`);
    rabbitMqScript('rabbitmq-server');
    const dir = makeTempDir('rabbitmq-cluster');
    const home = join(dir.path, 'home');
    mkdirSync(home, { recursive: true });
    // The cookie admits nodes and CLI tools to the cluster; ours, so no other Erlang node can join.
    writeFileSync(join(home, '.erlang.cookie'), randomBytes(20).toString('hex').toUpperCase(), { mode: 0o400 });
    const epmdPort = await findFreePort();
    const epmd = new ManagedProcess({ name: `epmd:${epmdPort}`, command: 'epmd', args: ['-port', String(epmdPort), '-address', '127.0.0.1'], cwd: dir.path });
    const erlangEnv = { HOME: home, ERL_EPMD_PORT: String(epmdPort) };
    const names = Array.from({ length: count }, (_, i) => `iot${i + 1}`);
    const sharedConf = [
      'mqtt.allow_anonymous = false',
      'mqtt.durable_queue_type = quorum',
      'cluster_formation.peer_discovery_backend = classic_config',
      ...names.map((name, i) => `cluster_formation.classic_config.nodes.${i + 1} = ${name}@localhost`),
      'log.console = false',
      'log.file.level = info',
    ];
    const nodes: RabbitMqNode[] = [];
    try {
      await waitForPort(epmdPort, epmd);
      for (const name of names) {
        const ports = { mqtt: await findFreePort(), amqp: await findFreePort(), dist: await findFreePort() };
        nodes.push(new RabbitMqNode({ name, dir: join(dir.path, name), ports, sharedConf, erlangEnv, readyTimeoutMs: options.readyTimeoutMs ?? 120_000 }));
      }
      // Together: with classic_config each node looks for its peers while it boots.
      await Promise.all(nodes.map((node) => node.start()));
      const cluster = new RabbitMqCluster(dir, nodes, epmd, options.topics ?? new TopicScheme());
      await cluster.waitUntilRunning(nodes);
      // The default user would be a known login; MQTT never needs it.
      await cluster.ctl(0, ['delete_user', 'guest']);
      for (const user of options.users ?? []) await cluster.addUser(user);
      return cluster;
    } catch (error) {
      await Promise.all(nodes.map((node) => node.dispose()));
      await epmd.kill();
      dir.remove();
      throw error;
    }
  }

  /** One `mqtt://` address per node, in node order: a client's list of brokers to fail over between. */
  get urls(): string[] {
    return this.nodes.map((node) => node.url);
  }

  /** Creates a user with full rights on the default vhost and, for a device, its topic permissions. */
  async addUser(user: RabbitMqUser, via = 0): Promise<void> {
    await this.ctl(via, ['add_user', user.username, user.password]);
    await this.ctl(via, ['set_permissions', '-p', '/', user.username, '.*', '.*', '.*']);
    if (user.role === 'device') {
      const { write, read } = rabbitMqTopicPermissions(this.topics, user.deviceId);
      await this.ctl(via, ['set_topic_permissions', '-p', '/', user.username, 'amq.topic', write, read]);
    }
  }

  /** The Erlang names of the nodes running in the cluster, as node `via` sees it. */
  async runningNodes(via = 0): Promise<string[]> {
    const status = JSON.parse(await this.ctl(via, ['cluster_status', '--formatter', 'json'])) as { running_nodes?: string[] };
    return [...(status.running_nodes ?? [])].sort();
  }

  /** Resolves once every node of `expected` runs in one cluster, as a running node sees it. */
  async waitUntilRunning(expected: readonly RabbitMqNode[] = this.nodes, timeoutMs = 120_000): Promise<void> {
    const want = expected.map((node) => node.nodeName).sort();
    const via = this.nodes.findIndex((node) => node.running);
    if (via < 0) throw new Error('no RabbitMQ node is running');
    const deadline = Date.now() + timeoutMs;
    let seen: string[] = [];
    for (;;) {
      seen = await this.runningNodes(via).catch(() => []);
      if (want.every((name) => seen.includes(name))) return;
      if (Date.now() > deadline) throw new Error(`RabbitMQ cluster: ${want.join(', ')} not all running after ${timeoutMs} ms (running: ${seen.join(', ') || 'none'})`);
      // Each rabbitmqctl call boots a small Erlang VM; polling faster would only add load.
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  /** Runs `rabbitmqctl` against node `index`; rejects with its output when it fails. */
  async ctl(index: number, args: readonly string[]): Promise<string> {
    const node = this.nodes[index];
    if (node === undefined) throw new RangeError(`no RabbitMQ node ${index} (the cluster has ${this.nodes.length})`);
    try {
      const { stdout } = await run(rabbitMqScript('rabbitmqctl'), ['-n', node.nodeName, '--quiet', ...args], { env: node.ctlEnv(), timeout: 60_000 });
      return stdout;
    } catch (error) {
      const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
      throw new Error(`rabbitmqctl ${args[0] ?? ''} on ${node.nodeName} failed: ${(error as Error).message}\n${stdout}${stderr}`);
    }
  }

  /** Stops every node cleanly, then epmd. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()));
    await this.epmd.stop();
  }

  /** Kills every node and epmd and removes the cluster's directory. */
  async dispose(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.dispose()));
    await this.epmd.kill();
    this.removeDir();
  }
}

/** Resolves once something accepts TCP connections on loopback `port`, or fails if `proc` exits. */
async function waitForPort(port: number, proc: ManagedProcess, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!proc.running) throw new Error(`${proc.name} exited before listening on ${port}\n${proc.tail()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`${proc.name} not listening on ${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
