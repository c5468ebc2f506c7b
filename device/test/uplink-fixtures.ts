import { createServer, type Server, type Socket } from 'node:net';
import {
  type Ack,
  type DeviceStatus,
  PROTOCOL_VERSION,
  type ReadingsBatch,
  readingFields,
  readingsBatch,
  STREAM_KEY,
  TopicScheme,
} from '@iot/common/protocol';
import { type Clock, systemClock } from '@iot/common/clock';
import { createUplink, parseUplinkConfig, type UplinkService } from '../src/uplink/index.ts';
import { findFreePort } from '@iot/harness/processes';
import { captureLogs, eventually } from '@iot/harness/testing';
import { Aedes } from 'aedes';
import type { Redis } from 'ioredis';
import { connect, type MqttClient } from 'mqtt';
import { closeRedis, createRedisConnection } from '../src/redis-connection.ts';

/**
 * Test fixtures for the uplink: a real aedes broker in this process on a free port (restartable
 * on the same port, losing its in-memory state as a restarted broker does), and a small test
 * backend that plays the receiver: it records every batch and acknowledges it the way the
 * receiver does after its commit (docs/protocol.md §5).
 */
export class TestBroker {
  port = 0;
  /** Topics of the messages clients published, in the order the broker received them, each recorded before its PUBACK. */
  readonly received: string[] = [];
  private aedes: Aedes | undefined;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.aedes !== undefined;
  }

  async start(): Promise<this> {
    if (this.port === 0) this.port = await findFreePort();
    const aedes = await Aedes.createBroker({
      // Runs before aedes sends the PUBACK (aedes publishes to subscribers only after it).
      authorizePublish: (_client, packet, callback) => {
        this.received.push(packet.topic);
        callback(null);
      },
    });
    const server = createServer((socket) => {
      socket.setNoDelay(true);
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      aedes.handle(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.aedes = aedes;
    this.server = server;
    return this;
  }

  /** Closes the listener and every connection at once, as a crashed broker does (no Will is lost: aedes publishes it). */
  async stop(): Promise<void> {
    const { aedes, server } = this;
    this.aedes = undefined;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await Promise.all([
      new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())),
      new Promise<void>((resolve) => (aedes ? aedes.close(() => resolve()) : resolve())),
    ]);
  }
}

export interface ReceivedEntry {
  id: string;
  [field: string]: unknown;
}

/** What the test backend does with a batch: acknowledge it or stay silent. */
type AckPolicy = (batch: ReadingsBatch) => boolean;

/**
 * A stand-in for the receiver: subscribes to the readings and other device channels of every
 * device, keeps everything, deduplicates readings by (boot, seq) and acks each batch with
 * `up_to` = the batch's largest stream id, as the receiver does.
 */
export class TestBackend {
  readonly topics = new TopicScheme();
  readonly batches: ReadingsBatch[] = [];
  /** First copy of each reading by `boot:seq`, in arrival order. */
  readonly readings = new Map<string, ReceivedEntry>();
  readonly rejected: ReceivedEntry[] = [];
  readonly statuses: DeviceStatus[] = [];
  readonly responses: Record<string, unknown>[] = [];
  readonly reported: Record<string, unknown>[] = [];
  readonly values: Record<string, string>[][] = [];
  /** Sequence numbers seen (all boots), kept even in lean mode. */
  readonly seqs = new Set<number>();
  /** Raw payload size of each batch, in arrival order. */
  readonly payloadBytes: number[] = [];
  duplicates = 0;
  ackPolicy: AckPolicy = () => true;
  /** While true, acks are kept in {@link held} instead of being published. */
  holding = false;
  readonly held: { deviceId: string; ack: Ack }[] = [];
  private client: MqttClient | undefined;
  private readonly keep: boolean;

  /** `keep: false` records only sequence numbers, for runs of hundreds of thousands of readings. */
  constructor(options: { keep?: boolean } = {}) {
    this.keep = options.keep ?? true;
  }

  async connect(url: string): Promise<this> {
    const client = connect(url, { clientId: `test-backend-${process.pid}-${Math.random().toString(16).slice(2, 8)}`, reconnectPeriod: 200, protocolVersion: 4 });
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    client.on('connect', () => {
      client.subscribe(['readings', 'status', 'response', 'configReported', 'values'].map((c) => this.topics.filter(c as 'readings')), { qos: 1 });
    });
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    // Wait for the SUBACK too: a batch published before it would be missed.
    await client.subscribeAsync(this.topics.filter('readings'), { qos: 1 });
    this.client = client;
    return this;
  }

  async close(): Promise<void> {
    await this.client?.endAsync(true);
  }

  /** Publishes on a device's channel, as the backend would. */
  async publish(channel: 'request' | 'broadcast' | 'configDesired' | 'ack', deviceId: string, message: unknown, retain = false): Promise<void> {
    await this.client!.publishAsync(this.topics.topic(channel, deviceId), typeof message === 'string' ? message : JSON.stringify(message), { qos: 1, retain });
  }

  /** Deletes a device's retained messages (an empty retained payload), so tests start clean. */
  async clearRetained(deviceId: string): Promise<void> {
    for (const channel of ['status', 'configReported', 'configDesired', 'request'] as const) {
      await this.client!.publishAsync(this.topics.topic(channel, deviceId), '', { qos: 1, retain: true });
    }
  }

  /** Publishes the held acks and stops holding. */
  async release(): Promise<void> {
    this.holding = false;
    for (const { deviceId, ack } of this.held.splice(0)) await this.publish('ack', deviceId, ack);
  }

  /** Ids of all entries received in all batches, in order, duplicates included. */
  allIds(): string[] {
    return this.batches.flatMap((b) => (b.entries as ReceivedEntry[]).map((e) => e.id));
  }

  private onMessage(topic: string, payload: Buffer): void {
    const match = this.topics.match(topic);
    if (match === undefined || match.deviceId === undefined) return;
    const json = payload.length === 0 ? undefined : JSON.parse(payload.toString('utf8'));
    switch (match.channel) {
      case 'readings':
        this.payloadBytes.push(payload.length);
        this.onBatch(match.deviceId, readingsBatch.parse(json));
        return;
      case 'status':
        if (json !== undefined) this.statuses.push(json as DeviceStatus);
        return;
      case 'response':
        this.responses.push(json as Record<string, unknown>);
        return;
      case 'configReported':
        if (json !== undefined) this.reported.push(json as Record<string, unknown>);
        return;
      case 'values':
        this.values.push(json as Record<string, string>[]);
        return;
    }
  }

  private onBatch(deviceId: string, batch: ReadingsBatch): void {
    if (this.keep) this.batches.push(batch);
    let stored = 0;
    let duplicates = 0;
    let rejected = 0;
    let upTo = '0-0';
    for (const raw of batch.entries as ReceivedEntry[]) {
      if (compareIds(raw.id, upTo) > 0) upTo = raw.id;
      if (typeof raw.boot !== 'string' || typeof raw.seq !== 'number') {
        rejected++;
        this.rejected.push(raw);
        continue;
      }
      if (!this.keep) {
        if (this.seqs.has(raw.seq)) duplicates++;
        else stored++;
        this.seqs.add(raw.seq);
        continue;
      }
      const key = `${raw.boot}:${raw.seq}${raw.event === 'shutdown' ? ':shutdown' : ''}`;
      if (this.readings.has(key)) duplicates++;
      else {
        this.readings.set(key, raw);
        stored++;
      }
    }
    this.duplicates += duplicates;
    if (!this.ackPolicy(batch)) return;
    const ack: Ack = { v: PROTOCOL_VERSION, batch: batch.batch, up_to: upTo, stored, duplicates, rejected };
    if (this.holding) {
      this.held.push({ deviceId, ack });
      return;
    }
    void this.publish('ack', deviceId, ack).catch(() => {});
  }
}

function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am === bm ? (as === bs ? 0 : as < bs ? -1 : 1) : am < bm ? -1 : 1;
}

export const BOOT = '0123456789abcdef';

/** The values a test reading `seq` carries: hand-made, so the backend's copy can be checked. */
export function valuesOf(seq: number): Record<string, number> {
  return { temperature_celsius: 20 + seq / 100, humidity_percent: 40 + (seq % 7) };
}

/** Appends readings `from`..`from+count-1` of boot {@link BOOT} as the sensor would; returns their stream ids. */
export async function addReadings(redis: Redis, from: number, count: number, boot = BOOT): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 1000) {
    // MULTI: the readings appear at once, so an uplink blocked on XREAD sees them all, not the first.
    const pipeline = redis.multi();
    for (let seq = from + start; seq < from + Math.min(count, start + 1000); seq++) {
      pipeline.xadd(STREAM_KEY, '*', ...readingFields({ bootId: boot, seq }, 1_700_000_000_000 + seq, valuesOf(seq)));
    }
    for (const [error, id] of (await pipeline.exec()) ?? []) {
      if (error) throw error;
      ids.push(String(id));
    }
  }
  return ids;
}

/**
 * Reads the current message of a retained topic (a device's status) with a fresh client: the
 * retained copy the broker sends on subscribing, or, if the device publishes just then, that live
 * message (the broker delivers it without the retain flag). Callers ask only for topics that hold
 * one, so this waits for it and fails after `timeoutMs` instead of guessing from silence.
 */
export async function readRetained(url: string, topic: string, timeoutMs = 10_000): Promise<unknown> {
  const client = connect(url, { clientId: `retained-reader-${Math.random().toString(16).slice(2, 8)}`, reconnectPeriod: 0, protocolVersion: 4 });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    const message = new Promise<unknown>((resolve, reject) => {
      client.on('message', (_topic, payload) => resolve(JSON.parse(payload.toString('utf8'))));
      timer = setTimeout(() => reject(new Error(`no retained message on ${topic} within ${timeoutMs} ms`)), timeoutMs);
    });
    await client.subscribeAsync(topic, { qos: 1 });
    return await message;
  } finally {
    clearTimeout(timer);
    await client.endAsync(true);
  }
}

export interface RunningUplink {
  uplink: UplinkService;
  redis: Redis;
  logs: ReturnType<typeof captureLogs>;
  /** How often the simulated reboot was asked for. */
  reboots: number;
  stop(): Promise<void>;
}

export interface StartUplinkOptions {
  /** How often the stream is trimmed while acks arrive; 0 = after every ack. */
  trimEveryMs?: number;
  /** The uplink's clock; the OS clock by default, a ManualClock to make time-based behaviour exact. */
  clock?: Clock;
  /** Runs when the simulated reboot is asked for (after `reboots` was counted); may throw. */
  onReboot?: () => void;
}

/**
 * The uplink in this process, wired exactly as main.ts wires it (parseUplinkConfig + createUplink)
 * from env vars, with its logs captured at debug level. It starts once both its Redis connections
 * are up, so no test begins with a failure backoff (which, on a ManualClock, would last until the
 * test moved the clock).
 */
export async function startUplink(env: Record<string, string>, options: StartUplinkOptions = {}): Promise<RunningUplink> {
  const logs = captureLogs('mqtthandler');
  const config = parseUplinkConfig({ HARDWARE: 'sim', BALENA_DEVICE_UUID: DEVICE, UPLINK_ACK_TIMEOUT_SECONDS: '2', ...env });
  const redis = createRedisConnection(config, logs.logger);
  let stopped: Promise<void> | undefined;
  const running: RunningUplink = {
    uplink: undefined as unknown as UplinkService,
    redis,
    logs,
    reboots: 0,
    // Idempotent: a test may stop its uplink itself, and the fixture's teardown stops it again.
    stop: () => {
      stopped ??= running.uplink.stop().finally(() => closeRedis(redis));
      return stopped;
    },
  };
  running.uplink = createUplink({
    config,
    redis,
    logger: logs.logger,
    clock: options.clock ?? systemClock,
    simulatedReboot: () => {
      running.reboots++;
      options.onReboot?.();
    },
    reconnectMinMs: 100,
    ...(options.trimEveryMs === undefined ? {} : { trimEveryMs: options.trimEveryMs }),
  });
  // The shared connection and the one createUplink opened for XREAD BLOCK (its log says which).
  await eventually(() => redis.status === 'ready' && logs.find('redis_up').some((r) => r.connection === 'blocking-read'), 10_000, 'the uplink Redis connections');
  await running.uplink.start();
  return running;
}

export const DEVICE = 'dev-1';
