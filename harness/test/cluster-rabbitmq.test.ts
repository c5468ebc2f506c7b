import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RabbitMqCluster } from '../src/cluster/rabbitmq-cluster.ts';
import { rabbitMqInstalled } from '../src/cluster/rabbitmq-node.ts';
import { eventually } from '../src/testing/log-capture.ts';

const SERVICE = { username: 'receiver', password: 'receiver-secret' };
const DEVICE = { username: 'dev-a', password: 'dev-a-secret' };
const topic = (device: string, channel: string) => `iot-projekt/device/${device}/${channel}`;

const installed = rabbitMqInstalled();
const title = `a RabbitMQ cluster of three nodes${installed ? '' : ' (skipped: rabbitmq-server is not installed; sudo apt-get install rabbitmq-server)'}`;

const clients: MqttClient[] = [];
const sessionPresent = new WeakMap<MqttClient, boolean>();
function connect(url: string, options: IClientOptions): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 30_000, protocolVersion: 4, ...options });
  clients.push(client);
  client.on('error', () => {});
  return new Promise((resolve, reject) => {
    client.once('connect', (connack) => {
      sessionPresent.set(client, connack.sessionPresent);
      resolve(client);
    });
    client.once('error', reject);
    client.once('close', () => reject(new Error(`${options.clientId ?? 'client'}: closed before CONNACK`)));
  });
}

/**
 * Connects as a client that reconnects would: while a node's loss is being handled, RabbitMQ
 * refuses new connections with CONNACK 3 ("server unavailable") until its client-id registry has
 * re-elected a leader.
 */
async function connectRetrying(url: string, options: IClientOptions, timeoutMs = 120_000): Promise<MqttClient> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await connect(url, options);
    } catch (error) {
      if (!/Server unavailable/.test((error as Error).message) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.once('close', () => resolve()));
}

/**
 * Publishes each message until it has its PUBACK, reconnecting when the connection drops first,
 * as our uplink re-sends what was not confirmed. RabbitMQ 3.10 closes a publisher's connection when
 * a quorum queue refuses a message while it elects a new leader (docs/clustered-broker.md §4).
 */
class ResendingPublisher {
  private client: { mqtt: MqttClient; closed: Promise<void> } | undefined;
  resent = 0;

  private readonly url: string;
  private readonly options: IClientOptions;

  constructor(url: string, options: IClientOptions) {
    this.url = url;
    this.options = options;
  }

  async send(topicName: string, payload: string): Promise<void> {
    for (;;) {
      if (this.client === undefined || !this.client.mqtt.connected) {
        const mqtt = await connectRetrying(this.url, this.options);
        this.client = { mqtt, closed: closed(mqtt) };
      }
      const { mqtt, closed: dropped } = this.client;
      const outcome = await Promise.race([mqtt.publishAsync(topicName, payload, { qos: 1 }).then(() => 'acked' as const), dropped.then(() => 'dropped' as const)]);
      if (outcome === 'acked') return;
      this.resent++;
    }
  }
}

/** The node leading quorum queue `name`, as node 0 sees it. */
async function queueLeader(cluster: RabbitMqCluster, name: string): Promise<string | undefined> {
  const queues = JSON.parse(await cluster.ctl(0, ['list_queues', 'name', 'leader', '--formatter', 'json'])) as { name: string; leader: string }[];
  return queues.find((queue) => queue.name === name)?.leader;
}

/** Collects each payload received, counting repeats. */
function collect(client: MqttClient): Map<string, number> {
  const seen = new Map<string, number>();
  client.on('message', (_topic, payload) => seen.set(payload.toString(), (seen.get(payload.toString()) ?? 0) + 1));
  return seen;
}

// On demand only (IOT_TEST_RABBITMQ_CLUSTER=1): RabbitMQ is the fallback engine of
// docs/clustered-broker.md, not the chosen one, and its node-kill test takes 50–70 s and once
// ran past its 60 s limit in a fresh-clone CI run. It returns to npm test with the engine issue 10 picks.
const requested = process.env.IOT_TEST_RABBITMQ_CLUSTER === '1';

describe.skipIf(!installed || !requested)(title, () => {
  let cluster: RabbitMqCluster;

  beforeAll(async () => {
    cluster = await RabbitMqCluster.start({
      nodes: 3,
      users: [
        { ...SERVICE, role: 'service' },
        { ...DEVICE, role: 'device', deviceId: DEVICE.username },
      ],
    });
  }, 300_000);

  const node = (i: number) => {
    const found = cluster.nodes[i];
    if (found === undefined) throw new Error(`no node ${i}`);
    return found;
  };

  afterEach(() => {
    for (const client of clients.splice(0)) client.end(true);
  });

  afterAll(async () => {
    await cluster?.dispose();
  }, 60_000);

  it('forms one cluster and carries a publish on one node to a subscriber on another', async () => {
    expect(await cluster.runningNodes()).toEqual(cluster.nodes.map((node) => node.nodeName).sort());
    const subscriber = await connect(node(1).url, { ...SERVICE, clientId: 'receiver-cross' });
    const seen = collect(subscriber);
    await subscriber.subscribeAsync('cross/node', { qos: 1 });
    const publisher = await connect(node(0).url, { ...SERVICE, clientId: 'publisher-cross' });
    for (let i = 0; i < 10; i++) await publisher.publishAsync('cross/node', String(i), { qos: 1 });
    await eventually(() => seen.size === 10, 30_000, 'all 10 messages on the other node');
    expect([...seen.keys()].sort()).toEqual(Array.from({ length: 10 }, (_, i) => String(i)).sort());
  }, 60_000);

  it("keeps a receiver's QoS 1 session through the kill of its node, and the node rejoins when restarted", async () => {
    const first = node(0);
    const second = node(1);
    const third = node(2);
    const session = { ...SERVICE, clientId: 'receiver-1', clean: false };
    const away = await connect(second.url, session);
    await away.subscribeAsync('readings/all', { qos: 1 });

    const awayClosed = closed(away);
    await second.kill();
    await awayClosed;
    // Publishing while the session's queue elects a new leader can lose messages RabbitMQ 3.10 has
    // already acknowledged (docs/clustered-broker.md §4), so this test publishes after the election.
    const survivors = [first.nodeName, third.nodeName];
    await eventually(async () => survivors.includes((await queueLeader(cluster, 'mqtt-subscription-receiver-1qos1')) ?? ''), 120_000, 'a new leader for the session queue');
    // PUBACK from RabbitMQ means the quorum queue behind the session has the message.
    const publisher = new ResendingPublisher(first.url, { ...SERVICE, clientId: 'publisher-1' });
    const sent = Array.from({ length: 50 }, (_, i) => `reading-${i}`);
    for (const payload of sent) await publisher.send('readings/all', payload);

    const back = await connectRetrying(third.url, session);
    const seen = collect(back);
    expect(sessionPresent.get(back)).toBe(true);
    await eventually(() => sent.every((payload) => seen.has(payload)), 60_000, 'every message queued while the node was dead');
    expect(sent.filter((payload) => !seen.has(payload))).toEqual([]);

    await second.start();
    await cluster.waitUntilRunning();
    expect(await cluster.runningNodes()).toContain(second.nodeName);
    // The restarted node serves MQTT again and is part of the same routing.
    const onRestarted = await connectRetrying(second.url, { ...SERVICE, clientId: 'receiver-restarted' });
    const again = collect(onRestarted);
    await onRestarted.subscribeAsync('after/restart', { qos: 1 });
    await publisher.send('after/restart', 'hello');
    await eventually(() => again.has('hello'), 30_000, 'a message through the restarted node');
  }, 300_000);

  it("lets a device user publish and subscribe on its own topics only (RabbitMQ closes the connection on anything else)", async () => {
    const url = node(0).url;
    const device = await connect(url, { ...DEVICE, clientId: `device-${DEVICE.username}` });
    const granted = await device.subscribeAsync(topic(DEVICE.username, 'ack'), { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1]);
    await device.publishAsync(topic(DEVICE.username, 'readings'), '{}', { qos: 1 });

    const foreignPublish = await connect(url, { ...DEVICE, clientId: `device-${DEVICE.username}-p` });
    let acked = false;
    foreignPublish.publish(topic('dev-b', 'readings'), '{}', { qos: 1 }, (error) => {
      if (error === undefined) acked = true;
    });
    await closed(foreignPublish);
    expect(acked).toBe(false);

    for (const filter of [topic('dev-b', 'ack'), 'iot-projekt/device/+/ack', '#']) {
      const prying = await connect(url, { ...DEVICE, clientId: `device-${DEVICE.username}-s` });
      const refused = closed(prying);
      prying.subscribe(filter, { qos: 1 }, () => {});
      await refused;
    }

    await expect(connect(url, { username: DEVICE.username, password: 'wrong', clientId: 'device-x' })).rejects.toThrow(/Bad username or password|Not authorized/);
  }, 120_000);
});
