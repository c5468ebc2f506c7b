import { randomBytes } from 'node:crypto';
import { type Ack, PROTOCOL_VERSION, readingKey } from '@iot/common/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import type { Login } from '../harness/credentials.ts';

/**
 * The load of the ingest benchmarks: simulated devices that publish protocol v1 batches, and the
 * very same readings as rows of the `readings` table, for loading them into MariaDB directly.
 */
export interface LoadShape {
  deviceIds: readonly string[];
  /** Batches each device publishes in one run. */
  batches: number;
  /** Readings per batch. */
  batchSize: number;
}

export const READING_COLUMNS = ['device_id', 'reading_key', 'boot_id', 'seq', 'stream_id', 'measured_at', 'received_at', 'values_json', 'clock_skew'] as const;

export interface V1Batch {
  v: number;
  device: string;
  batch: string;
  sent_at: number;
  entries: { id: string; boot: string; seq: number; at: number; values: Record<string, number> }[];
}

/** A fresh boot id per device and run, so every run's readings are new to the database. */
export function freshBoot(): string {
  return randomBytes(8).toString('hex');
}

/** Batch `index` (from 0) of a device's boot: entries seq index·size+1 … (index+1)·size. */
export function v1Batch(deviceId: string, boot: string, index: number, batchSize: number, now = Date.now()): V1Batch {
  const from = index * batchSize;
  return {
    v: PROTOCOL_VERSION,
    device: deviceId,
    batch: `${boot}-${index}`,
    sent_at: now,
    entries: Array.from({ length: batchSize }, (_, i) => ({
      id: `${now}-${from + i}`,
      boot,
      seq: from + i + 1,
      at: now,
      values: { temperature_celsius: 21.5 + i / 100, humidity_percent: 45.25, pressure_hpa: 1013.2 },
    })),
  };
}

/** The rows the receiver writes for a batch (READING_COLUMNS), received at `receivedAt`. */
export function batchRows(batch: V1Batch, receivedAt: number): unknown[][] {
  return batch.entries.map((e) => [batch.device, readingKey({ bootId: e.boot, seq: e.seq, streamId: e.id }), e.boot, e.seq, e.id, e.at, receivedAt, JSON.stringify(e.values), 0]);
}

/** Every row of one run's load, device by device, batch by batch. */
export function* loadRows(shape: LoadShape, boots: readonly string[], now = Date.now()): Generator<unknown[]> {
  for (let index = 0; index < shape.batches; index++) {
    for (const [d, id] of shape.deviceIds.entries()) yield* batchRows(v1Batch(id, boots[d]!, index, shape.batchSize, now), now);
  }
}

/** Ten at a time: the broker hashes passwords a few at a time, and a loaded machine is slow at it. */
export async function connectDevices(port: number, deviceIds: readonly string[], login: (id: string) => Login): Promise<MqttClient[]> {
  const clients: MqttClient[] = [];
  for (let start = 0; start < deviceIds.length; start += 10) {
    clients.push(
      ...(await Promise.all(
        deviceIds.slice(start, start + 10).map(async (id) => {
          const client = mqtt.connect({ host: '127.0.0.1', port, ...login(id), clientId: `device-${id}`, protocolVersion: 4, reconnectPeriod: 1000, connectTimeout: 120_000 });
          // A device reconnects by itself; an error is no reason to end the benchmark.
          client.on('error', () => {});
          await new Promise<void>((resolve) => client.once('connect', () => resolve()));
          await client.subscribeAsync(`iot-projekt/device/${id}/ack`, { qos: 1 });
          return client;
        }),
      )),
    );
  }
  return clients;
}

export interface OpenLoopRun {
  /** performance.now() of the first publish. */
  startedAt: number;
  /** When the last batch had its PUBACK from the broker. */
  publishedAt: number;
  /** Readings in the batches acknowledged so far (0 for a consumer that sends no acks). */
  acked: () => number;
  /** When the last ack arrived (performance.now()); undefined before. */
  lastAckAt: () => number | undefined;
  /** Resolves when every batch was acknowledged. */
  allAcked: Promise<void>;
  /**
   * Publishes every batch not yet acknowledged again, as a device does after its ack timeout
   * (a batch the receiver could not store while the database was unavailable is not acked, and
   * comes again); how many.
   */
  resendUnacked: () => Promise<number>;
  /** Stops counting acks (for a consumer that sends none). */
  detach: () => void;
}

/**
 * Open-loop QoS 1 load: every device publishes its batches one after another, each as soon as the
 * broker has taken the previous one (PUBACK), never waiting for the receiver's ack, so the offered
 * load does not depend on how fast anything is stored. Acks are counted as they come.
 */
export async function openLoop(clients: readonly MqttClient[], shape: LoadShape): Promise<OpenLoopRun> {
  let batchesAcked = 0;
  let lastAckAt: number | undefined;
  const total = shape.deviceIds.length * shape.batches;
  let resolveAll!: () => void;
  const allAcked = new Promise<void>((resolve) => (resolveAll = resolve));
  const boots = shape.deviceIds.map(() => freshBoot());
  const unacked = clients.map(() => new Set(Array.from({ length: shape.batches }, (_, i) => String(i))));
  const handlers = clients.map((client, d) => {
    const prefix = `${boots[d]}-`;
    const handler = (topic: string, payload: Buffer) => {
      if (!topic.endsWith('/ack')) return;
      const ack = JSON.parse(payload.toString()) as Ack;
      if (!ack.batch.startsWith(prefix) || !unacked[d]!.delete(ack.batch.slice(prefix.length))) return;
      batchesAcked++;
      lastAckAt = performance.now();
      if (batchesAcked === total) {
        detach();
        resolveAll();
      }
    };
    client.on('message', handler);
    return handler;
  });
  const detach = () => {
    for (const [i, c] of clients.entries()) c.off('message', handlers[i]!);
  };
  // A batch sent again is the same batch: same readings, same times (a new time would be an identity conflict).
  const firstSent = clients.map(() => new Map<number, number>());
  const publish = (d: number, index: number) => {
    const id = shape.deviceIds[d]!;
    const at = firstSent[d]!.get(index) ?? Date.now();
    firstSent[d]!.set(index, at);
    return clients[d]!.publishAsync(`iot-projekt/device/${id}/readings`, JSON.stringify(v1Batch(id, boots[d]!, index, shape.batchSize, at)), { qos: 1 });
  };
  const startedAt = performance.now();
  await Promise.all(
    clients.map(async (_, d) => {
      for (let index = 0; index < shape.batches; index++) await publish(d, index);
    }),
  );
  const resendUnacked = async () => {
    const again = unacked.flatMap((set, d) => [...set].map((index) => [d, Number(index)] as const));
    await Promise.all(again.map(([d, index]) => publish(d, index)));
    return again.length;
  };
  return { startedAt, publishedAt: performance.now(), acked: () => batchesAcked * shape.batchSize, lastAckAt: () => lastAckAt, allAcked, resendUnacked, detach };
}
