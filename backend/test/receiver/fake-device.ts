import { type Ack, PROTOCOL_VERSION } from '@iot/common/protocol';
import type { Login } from '@iot/harness';
import mqtt, { type MqttClient } from 'mqtt';

/** A stand-in for a device's uplink that publishes hand-made payloads and collects acks. */
export class FakeDevice {
  readonly id: string;
  readonly acks: Ack[] = [];
  readonly client: MqttClient;
  private seq = 0;
  private streamMs = 1_700_000_000_000;
  readonly boot: string;

  private constructor(id: string, client: MqttClient, boot: string) {
    this.id = id;
    this.client = client;
    this.boot = boot;
    client.on('message', (topic, payload) => {
      if (topic.endsWith('/ack')) this.acks.push(JSON.parse(payload.toString()) as Ack);
    });
  }

  static async connect(port: number, id: string, login: Login, boot = 'b0b0b0b0b0b0b0b0'): Promise<FakeDevice> {
    const client = mqtt.connect({ host: '127.0.0.1', port, ...login, clientId: `device-${id}`, protocolVersion: 4, reconnectPeriod: 200 });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.subscribeAsync(`iot-projekt/device/${id}/ack`, { qos: 1 });
    return new FakeDevice(id, client, boot);
  }

  /** The next `count` readings of this boot as v1 entries. */
  entries(count: number, values: (seq: number) => Record<string, number> = (seq) => ({ temperature_celsius: 20 + seq / 100 })) {
    return Array.from({ length: count }, () => {
      this.seq++;
      this.streamMs += 10;
      return { id: `${this.streamMs}-0`, boot: this.boot, seq: this.seq, at: this.streamMs - 5, values: values(this.seq) };
    });
  }

  batch<T>(entries: T[], batch = `batch-${this.seq}`) {
    return { v: PROTOCOL_VERSION, device: this.id, batch, sent_at: Date.now(), entries };
  }

  publish(channel: string, payload: unknown): Promise<unknown> {
    const body = Buffer.isBuffer(payload) || typeof payload === 'string' ? payload : JSON.stringify(payload);
    return this.client.publishAsync(`iot-projekt/device/${this.id}/${channel}`, body, { qos: 1 });
  }

  /** Publishes a batch until its ack arrives (as the uplink does after an ack timeout). */
  async deliver(batch: { batch: string }, options: { resendMs?: number; timeoutMs?: number } = {}): Promise<Ack> {
    const deadline = Date.now() + (options.timeoutMs ?? 20_000);
    while (Date.now() < deadline) {
      await this.publish('readings', batch).catch(() => {});
      const until = Date.now() + (options.resendMs ?? 1000);
      while (Date.now() < until) {
        const ack = this.acks.find((a) => a.batch === batch.batch);
        if (ack) return ack;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    throw new Error(`no ack for ${batch.batch} within ${options.timeoutMs ?? 20_000} ms`);
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}
