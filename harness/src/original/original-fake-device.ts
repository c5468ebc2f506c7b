import { type Clock, systemClock } from '@iot/common/clock';
import { REDIS_KEY, TopicScheme } from '@iot/common/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import { compareStreamIds, parseStreamId, type StreamEntry } from './stream-entry.ts';

export interface OriginalFakeDeviceOptions {
  /** BALENA_DEVICE_UUID. */
  deviceId: string;
  broker: { host?: string; port: number };
  login: { username: string; password: string };
  /** Stamps the stream ids of readings measured without an explicit time; the OS clock by default. */
  clock?: Clock;
  /** How soon the client reconnects after a lost connection, ms (paho waits 1 s, then doubles). */
  reconnectPeriodMs?: number;
  /** MQTT keepalive, s (the original's default is 60). */
  keepaliveSeconds?: number;
  /** Runs after the reboot answer was published, as the original then runs its reboot script. */
  onReboot?: () => void;
}

/** An answer the device published on its response topic. */
export interface OriginalAnswer {
  payload: Record<string, unknown>;
}

/** One readings message the device published on `values`. */
export interface PublishedValues {
  ids: string[];
  bytes: number;
  /** Why it was sent: the send loop, or a send_measurements command. */
  cause: 'backlog' | 'send_measurements';
  /** Set once MQTT.js saw the PUBACK. */
  acked: boolean;
}

/**
 * A TypeScript stand-in for a device running the original software (docs/original-system.md
 * §11–§14), faithful where delivery depends on it, faster and deterministic for edge cases:
 * - the stream and the device's keys live in memory (the original keeps them in Redis, §3);
 * - each send ({@link sendBacklog}) is ONE message of every entry after the cursor, on `values` at
 *   QoS 1, and the cursor moves right after publish, before the PUBACK (§14);
 * - a message without PUBACK is sent again after a reconnect, as paho 1.x does whatever the
 *   session (MQTT.js does the same from its outgoing store); {@link crash} loses it instead;
 * - commands are answered at QoS 0 in the original format (§12), values are strings (§11);
 * - it connects with an empty client id and a clean session, as paho 1.x's `Client()` does.
 */
export class OriginalFakeDevice {
  readonly id: string;
  /** The `measurement:values` stream. */
  readonly stream: StreamEntry[] = [];
  /** The device's other Redis keys, which get_config reads and set_config writes. */
  readonly keys = new Map<string, string>();
  readonly answers: OriginalAnswer[] = [];
  readonly published: PublishedValues[] = [];
  /** Commands received, as parsed. */
  readonly commands: Record<string, unknown>[] = [];
  reboots = 0;
  private readonly options: OriginalFakeDeviceOptions;
  private readonly topics = new TopicScheme();
  private readonly clock: Clock;
  private client: MqttClient | undefined;
  private connects = 0;

  constructor(options: OriginalFakeDeviceOptions) {
    this.id = options.deviceId;
    this.options = options;
    this.clock = options.clock ?? systemClock;
  }

  /** Times the broker admitted this device (reconnects included). */
  get connections(): number {
    return this.connects;
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** `mqtt_sender:last_id`: `(<id>` after a send, null before the first (§5). */
  get cursor(): string | null {
    return this.keys.get(REDIS_KEY.senderLastId) ?? null;
  }

  /** Connects (the first CONNACK awaited) and subscribes to broadcast and request at QoS 0. */
  async start(): Promise<this> {
    const client = mqtt.connect({
      host: this.options.broker.host ?? '127.0.0.1',
      port: this.options.broker.port,
      username: this.options.login.username,
      password: this.options.login.password,
      clientId: '',
      clean: true,
      protocolVersion: 4,
      keepalive: this.options.keepaliveSeconds ?? 60,
      reconnectPeriod: this.options.reconnectPeriodMs ?? 200,
      // Resubscribing is the original's on_connect; MQTT.js does it for us.
      resubscribe: true,
    });
    this.client = client;
    client.on('connect', () => {
      this.connects++;
    });
    client.on('error', () => {});
    client.on('message', (topic, payload) => this.onCommand(topic, payload));
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.subscribeAsync({ [this.topics.topic('broadcast', this.id)]: { qos: 0 }, [this.topics.topic('request', this.id)]: { qos: 0 } });
    return this;
  }

  /**
   * One reading as the original sensor's XADD stores it: the id from the clock (or `at`, ms),
   * after the last id as Redis requires; every value a string.
   */
  measure(fields: Record<string, string>, at: number = this.clock.now()): string {
    const last = this.stream.at(-1);
    const lastId = last === undefined ? undefined : parseStreamId(last.id);
    const ms = Math.max(Math.floor(at), lastId?.ms ?? 0);
    const id = lastId !== undefined && lastId.ms === ms ? `${ms}-${lastId.seq + 1}` : `${ms}-0`;
    this.stream.push({ id, fields: { ...fields } });
    return id;
  }

  /** The entries XRANGE would give for `min`…`max` (`-`, `+`, bare ids, `(` exclusive), at most `count`. */
  range(min = '-', max = '+', count?: number): StreamEntry[] {
    const after = (id: string) => {
      if (min === '-') return true;
      if (min.startsWith('(')) return compareStreamIds(id, min.slice(1)) > 0;
      return compareStreamIds(id, min) >= 0;
    };
    const before = (id: string) => {
      if (max === '+') return true;
      if (max.startsWith('(')) return compareStreamIds(id, max.slice(1)) < 0;
      return compareStreamIds(id, max) <= 0;
    };
    const found = this.stream.filter((e) => after(e.id) && before(e.id));
    return count === undefined ? found : found.slice(0, count);
  }

  /**
   * One cycle of the original's send loop: if sending is on and the client is connected, every
   * entry after the cursor goes out as ONE message, and the cursor moves at once, whether or not
   * a PUBACK ever comes (§14). @returns the entries sent (none when there was nothing to send).
   */
  sendBacklog(): StreamEntry[] {
    if (this.keys.get(REDIS_KEY.senderEnabled) === '0' || !this.connected) return [];
    const entries = this.range(this.cursor ?? '-');
    if (entries.length === 0) return [];
    this.publishValues(entries, 'backlog');
    this.keys.set(REDIS_KEY.senderLastId, `(${entries.at(-1)!.id}`);
    return entries;
  }

  /** Every send so far has its PUBACK. */
  get allAcked(): boolean {
    return this.published.every((p) => p.acked);
  }

  /** Drops the connection (a reset): MQTT.js reconnects and re-sends what has no PUBACK, as paho does. */
  dropConnection(): void {
    this.client?.stream.destroy();
  }

  /**
   * The process dies: the connection goes, and with it the client's queue of messages without
   * PUBACK. The cursor (in Redis on the original) stays where publish moved it, so those readings
   * are never sent again (§14). {@link start} is the restarted process.
   */
  async crash(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.endAsync(true);
  }

  async stop(): Promise<void> {
    await this.crash();
  }

  private publishValues(entries: readonly StreamEntry[], cause: PublishedValues['cause']): void {
    const payload = JSON.stringify(
      entries.map((e) => ({
        _id: e.id,
        _device_uuid: this.id,
        _device_type: 'raspberrypi4-64',
        _app_id: '1829540',
        _app_name: 'compat-fake',
        ...e.fields,
      })),
    );
    const record: PublishedValues = { ids: entries.map((e) => e.id), bytes: Buffer.byteLength(payload), cause, acked: false };
    this.published.push(record);
    // Not awaited: the original moves on (and moves its cursor) without waiting for the PUBACK.
    this.client?.publish(this.topics.topic('values', this.id), payload, { qos: 1 }, (error) => {
      if (error === undefined || error === null) record.acked = true;
    });
  }

  private answer(payload: Record<string, unknown>): void {
    this.answers.push({ payload });
    this.client?.publish(this.topics.topic('response', this.id), JSON.stringify(payload), { qos: 0 });
  }

  /** The original's command handler (§12): case-insensitive names, the four commands, nothing else. */
  private onCommand(_topic: string, raw: Buffer): void {
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      return;
    }
    this.commands.push(payload);
    const command = typeof payload.command === 'string' ? payload.command.toUpperCase() : '';
    const key = typeof payload.key === 'string' ? payload.key : '';
    switch (command) {
      case 'REBOOT':
        this.answer({ command: 'reboot' });
        this.reboots++;
        this.options.onReboot?.();
        return;
      case 'GET_CONFIG':
        if (key !== '') this.answer({ command: 'get_config', key, value: this.keys.get(key) ?? null });
        return;
      case 'SET_CONFIG': {
        if (key === '') return;
        const value = payload.value ?? '';
        this.keys.set(key, String(value));
        this.answer({ command: 'set_config', key, value });
        return;
      }
      case 'SEND_MEASUREMENTS': {
        const count = payload.count === undefined || payload.count === null || payload.count === 0 ? undefined : Number(payload.count);
        const entries = this.range(String(payload.min_id ?? '-'), String(payload.max_id ?? '+'), count);
        if (entries.length > 0) this.publishValues(entries, 'send_measurements');
        return;
      }
      default:
        return;
    }
  }
}
