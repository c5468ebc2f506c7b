import type { Clock } from '@iot/common/clock';
import type { Logger } from '@iot/common/log';
import {
  type Channel,
  commandResponse,
  type DesiredConfig,
  type Decoded,
  decodeJson,
  decodeJsonPayload,
  decodePayload,
  deviceStatus,
  PROTOCOL_VERSION,
  type Rejection,
  reportedConfig,
  type TopicScheme,
} from '@iot/common/protocol';
import type { Service } from '@iot/common/service';
import type { IPublishPacket, MqttClient } from 'mqtt';
import type { z } from 'zod';
import { DatabaseGate, type GateOutcome } from './database-gate.ts';
import { DEFAULT_GROUP_COMMIT, type GroupCommitLimits, GroupCommitter } from './group-commit.ts';
import type { IngestStore } from './ingest-store.ts';
import { DEFAULT_LIMITS, type ReceiverLimits } from './limits.ts';
import { type MessageKind, ReceiverMetrics } from './metrics.ts';
import { ReadingsIngest } from './readings-ingest.ts';
import { RejectionLog } from './rejection-log.ts';

/** Channels the receiver consumes; devices' inbound channels are not its business. */
export const RECEIVER_CHANNELS: readonly Channel[] = ['readings', 'values', 'status', 'response', 'configReported'];

/** Defaults of {@link ReceiverOptions.maxConcurrent} and {@link ReceiverOptions.maxInFlightBytes} (config.ts). */
export const DEFAULT_MAX_CONCURRENT = 512;
export const DEFAULT_MAX_IN_FLIGHT_BYTES = 64 * 1024 * 1024;

const KIND_OF_CHANNEL: Partial<Record<Channel, MessageKind>> = {
  readings: 'batch',
  values: 'original_readings',
  status: 'status',
  response: 'answer',
  configReported: 'reported_config',
};

export interface ReceiverOptions {
  /** Creates the (already configured) MQTT client; called once at start. */
  connect: () => MqttClient;
  store: IngestStore;
  topics: TopicScheme;
  logger: Logger;
  clock: Clock;
  /** Largest payload on every topic but `values`. */
  maxPayloadBytes: number;
  /** Largest original-format readings message (`values`); `maxPayloadBytes` when omitted. */
  maxOriginalPayloadBytes?: number;
  /** MQTT shared-subscription group: receivers in one group share the load. */
  sharedGroup?: string | undefined;
  /**
   * Messages in process at once, those waiting for a group transaction included; beyond it (or
   * {@link maxInFlightBytes}) the receiver stops reading from the broker, which keeps the rest
   * (back-pressure: the PUBACK of the next message is held back, and MQTT.js reads no further).
   */
  maxConcurrent?: number;
  /** Payload bytes of the messages in process at once (see {@link maxConcurrent}). */
  maxInFlightBytes?: number;
  /** How batches of many devices share transactions (group-commit.ts); the defaults when omitted. */
  groupCommit?: GroupCommitLimits;
  commandSweepMs?: number;
  /** Where the receiver counts its work (served on GET /metrics); a private one when omitted. */
  metrics?: ReceiverMetrics;
  /** What devices may send, and how long rejections are kept (limits.ts); the defaults when omitted. */
  limits?: ReceiverLimits;
}

/**
 * The receiver: validates every message, stores readings idempotently and only after the commit
 * publishes the acknowledgement that lets the device move its cursor (docs/delivery-guarantee.md §2). An invalid
 * message is recorded as rejected with its reason and never stops valid traffic.
 */
export class Receiver implements Service {
  readonly metrics: ReceiverMetrics;
  private client: MqttClient | undefined;
  private inFlight = 0;
  private inFlightBytes = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly idle = new Set<() => void>();
  private readonly stopping = new AbortController();
  private sweeper: Promise<void> | undefined;
  private upkeep: Promise<void> | undefined;
  private readonly gate: DatabaseGate;
  private readonly rejections: RejectionLog;
  private readonly readings: ReadingsIngest;
  private readonly options: ReceiverOptions;

  constructor(options: ReceiverOptions) {
    this.options = options;
    const { clock, logger, store } = options;
    const limits = options.limits ?? DEFAULT_LIMITS;
    this.gate = new DatabaseGate({ clock, logger, probe: () => store.ping() });
    this.metrics = options.metrics ?? new ReceiverMetrics();
    this.metrics.watchDatabase(() => this.gate.healthy);
    this.rejections = new RejectionLog({ store, gate: this.gate, clock, logger, limits, metrics: this.metrics });
    const committer = new GroupCommitter({ gate: this.gate, store, logger, metrics: this.metrics, limits: options.groupCommit ?? DEFAULT_GROUP_COMMIT });
    this.readings = new ReadingsIngest({
      store,
      gate: this.gate,
      committer,
      rejections: this.rejections,
      metrics: this.metrics,
      logger,
      limits,
      maxPayloadBytes: options.maxPayloadBytes,
      maxOriginalPayloadBytes: options.maxOriginalPayloadBytes ?? options.maxPayloadBytes,
      now: () => clock.now(),
      reject: (topic, deviceId, payload, rejection) => this.reject(topic, deviceId, payload, rejection),
      ack: (deviceId, payload) => this.publish(options.topics.topic('ack', deviceId), payload),
    });
  }

  /** Healthy: connected to the broker and the database answers. */
  health(): { healthy: boolean; mqtt: boolean; database: boolean } {
    const mqtt = this.client?.connected ?? false;
    return { healthy: mqtt && this.gate.healthy, mqtt, database: this.gate.healthy };
  }

  async start(): Promise<void> {
    const { logger, topics, sharedGroup } = this.options;
    const client = this.options.connect();
    this.client = client;
    client.handleMessage = (packet, done) => this.accept(packet, done);
    client.on('connect', () => {
      const filters = RECEIVER_CHANNELS.map((channel) => topics.filter(channel)).map((f) => (sharedGroup ? `$share/${sharedGroup}/${f}` : f));
      client.subscribe(filters, { qos: 1 }, (error, granted) => {
        const refused = (granted ?? []).filter((g) => g.qos > 2);
        if (error || refused.length > 0) {
          logger.error({ event: 'subscribe_failed', err: error ? { message: error.message } : undefined, refused }, 'subscription refused by the broker');
        } else {
          logger.info({ event: 'receiver_subscribed', filters }, 'receiving');
        }
      });
    });
    client.on('close', () => {
      // A held-back message belongs to the connection that just closed: its PUBACK must not go out on
      // the next one, where its packet id means nothing (aedes closes a connection that acknowledges
      // an unknown id). Unacknowledged, the broker sends it again; it is still being processed here.
      this.waiting.length = 0;
      logger.warn({ event: 'mqtt_disconnected' }, 'lost connection to the broker; reconnecting');
    });
    client.on('error', (error) => logger.warn({ event: 'mqtt_error', err: { message: error.message } }, 'MQTT error'));
    this.sweeper = this.sweepCommands(this.stopping.signal);
    this.upkeep = this.rejections.run(this.stopping.signal);
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.sweeper;
    await this.upkeep;
    // Let messages in progress finish, so their acks go out.
    while (this.inFlight > 0) await new Promise<void>((resolve) => this.idle.add(resolve));
    // Their rejections may be held by the rate limit: the summary rows are written now, not lost.
    if (this.rejections.held > 0) await this.rejections.sweep();
    this.gate.stop();
    await new Promise<void>((resolve) => (this.client ? this.client.end(false, {}, () => resolve()) : resolve()));
  }

  /** MQTT.js calls this per message and sends the PUBACK (and reads on) when `done` is called. */
  private accept(packet: IPublishPacket, done: (error?: Error) => void): void {
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    this.inFlight++;
    this.inFlightBytes += payload.length;
    this.metrics.messageStarted(payload.length);
    void this.process(packet.topic, payload).finally(() => {
      this.inFlight--;
      this.inFlightBytes -= payload.length;
      this.metrics.messageFinished(payload.length);
      while (this.waiting.length > 0 && this.hasRoom()) this.waiting.shift()!();
      if (this.inFlight > 0) return;
      for (const resolve of [...this.idle]) {
        this.idle.delete(resolve);
        resolve();
      }
    });
    if (this.hasRoom()) done();
    else this.waiting.push(() => done());
  }

  /** Whether one more message may be read from the broker now. */
  private hasRoom(): boolean {
    return this.inFlight < (this.options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT) && this.inFlightBytes < (this.options.maxInFlightBytes ?? DEFAULT_MAX_IN_FLIGHT_BYTES);
  }

  private async process(topic: string, payload: Buffer): Promise<void> {
    const match = this.options.topics.match(topic);
    this.metrics.messageReceived(match?.deviceId === undefined ? 'unknown' : (KIND_OF_CHANNEL[match.channel] ?? 'unknown'));
    try {
      if (match === undefined || match.deviceId === undefined) {
        await this.reject(topic, undefined, payload, { reason: 'unknown_topic', detail: `no device channel matches ${topic}` });
        return;
      }
      const { channel, deviceId } = match;
      switch (channel) {
        case 'readings':
          return await this.readings.onBatch(topic, deviceId, payload);
        case 'values':
          return await this.readings.onOriginalReadings(topic, deviceId, payload);
        case 'status':
          return await this.onStatus(topic, deviceId, payload);
        case 'response':
          return await this.onResponse(topic, deviceId, payload);
        case 'configReported':
          return await this.onReported(topic, deviceId, payload);
        default:
          return;
      }
    } catch (error) {
      // A bug must not take the receiver down, nor pass unrecorded: the message is rejected with
      // what went wrong; the device re-sends what was not acked.
      this.options.logger.error({ event: 'receiver_bug', topic, err: error }, 'unexpected error while handling a message');
      await this.reject(topic, match?.deviceId, payload, refusal('the receiver failed on this message', error)).catch(() => {});
    }
  }

  private async onStatus(topic: string, deviceId: string, payload: Buffer): Promise<void> {
    // The broker deletes a retained message with an empty payload; that is not a status.
    if (payload.length === 0) return;
    const parsed = this.decode(deviceStatus, payload);
    if (!parsed.ok) return this.reject(topic, deviceId, payload, parsed.rejection);
    const outcome = await this.gate.run('recording a status', () => this.options.store.recordStatus(deviceId, parsed.value, this.options.clock.now()));
    await this.rejectIfRefused(topic, deviceId, payload, outcome);
  }

  private async onResponse(topic: string, deviceId: string, payload: Buffer): Promise<void> {
    const json = decodeJson(payload, this.options.maxPayloadBytes);
    if (!json.ok) return this.reject(topic, deviceId, payload, json.rejection);
    const value = json.value;
    // v1 answers carry v and ok; the original's are the command object echoed (with a value) and
    // say nothing of the outcome, which the store judges from the body (docs/original-devices.md §3).
    let response: { id?: string | undefined; command: string; ok: boolean | null; body: unknown };
    if (typeof value === 'object' && value !== null && 'v' in value) {
      const parsed = decodePayload(commandResponse, value);
      if (!parsed.ok) return this.reject(topic, deviceId, payload, parsed.rejection);
      response = { id: parsed.value.id, command: parsed.value.command.toLowerCase(), ok: parsed.value.ok, body: parsed.value };
    } else if (typeof value === 'object' && value !== null && 'command' in value && typeof value.command === 'string') {
      response = { command: value.command.toLowerCase(), ok: null, body: value };
    } else {
      return this.reject(topic, deviceId, payload, { reason: 'wrong_shape', detail: 'a response needs a "command" field' });
    }
    const matched = await this.gate.run('recording a response', () => this.options.store.recordResponse(deviceId, response, this.options.clock.now()));
    await this.rejectIfRefused(topic, deviceId, payload, matched);
    if (matched.status === 'done' && !matched.value) this.options.logger.warn({ event: 'response_unmatched', device: deviceId, command: response.command, id: response.id }, 'a device answered a command we have no record of');
  }

  private async onReported(topic: string, deviceId: string, payload: Buffer): Promise<void> {
    if (payload.length === 0) return;
    const parsed = this.decode(reportedConfig, payload);
    if (!parsed.ok) return this.reject(topic, deviceId, payload, parsed.rejection);
    const reported = parsed.value;
    const outcome = await this.gate.run('recording a reported configuration', async () => {
      await this.options.store.recordReported(deviceId, reported.version, reported.config, reported.errors);
      return this.options.store.desired(deviceId);
    });
    await this.rejectIfRefused(topic, deviceId, payload, outcome);
    const desired = outcome.status === 'done' ? outcome.value : undefined;
    // A device that was offline (or a broker that lost its retained messages) converges here.
    if (desired !== undefined && desired.version > reported.version) {
      const message: DesiredConfig = { v: PROTOCOL_VERSION, version: desired.version, config: desired.config };
      this.publish(this.options.topics.topic('configDesired', deviceId), JSON.stringify(message), true);
      this.options.logger.info({ event: 'desired_config_resent', device: deviceId, reported: reported.version, desired: desired.version }, 'device is behind its desired configuration; sent it again');
    }
  }

  private decode<T>(schema: z.ZodType<T>, payload: Buffer): Decoded<T> {
    return decodeJsonPayload(schema, payload, this.options.maxPayloadBytes);
  }

  /** A message whose store was refused (not an outage) is that message's rejection, recorded. */
  private async rejectIfRefused(topic: string, deviceId: string, payload: Buffer, outcome: GateOutcome<unknown>): Promise<void> {
    if (outcome.status === 'refused') await this.reject(topic, deviceId, payload, refusal('the database did not take this message while it served others', outcome.error));
  }

  /** Records a rejection of a whole message (one row, through the per-device rate limit). */
  private async reject(topic: string, deviceId: string | undefined, payload: Buffer, rejection: Rejection): Promise<void> {
    this.metrics.rejection(rejection.reason);
    const outcome = await this.rejections.record([{ topic, deviceId, ...rejection, payload }]);
    const held = outcome.status === 'done' && outcome.value === 0;
    this.options.logger[held ? 'debug' : 'warn']({ event: 'message_rejected', topic, device: deviceId, reason: rejection.reason, detail: rejection.detail, rate_limited: held }, 'message rejected');
  }

  /**
   * Hands a message to MQTT.js without waiting for the broker's PUBACK: PUBACKs are read by the
   * same packet loop that {@link accept} holds back when all slots are busy, so waiting here
   * could deadlock. A lost ack costs only a re-send by the device.
   */
  private publish(topic: string, payload: string, retain = false): void {
    this.client!.publish(topic, payload, { qos: 1, retain }, (error) => {
      if (error) this.options.logger.warn({ event: 'publish_failed', topic, err: { message: error.message } }, 'could not publish; the device will ask again');
    });
  }

  private async sweepCommands(signal: AbortSignal): Promise<void> {
    const every = this.options.commandSweepMs ?? 5000;
    while (!signal.aborted) {
      await this.options.clock.sleep(every, signal);
      if (signal.aborted) return;
      const outcome = await this.gate.run('expiring commands', () => this.options.store.expireCommands(this.options.clock.now()));
      const expired = outcome.status === 'done' ? outcome.value : 0;
      if (outcome.status === 'refused') this.options.logger.error({ event: 'receiver_bug', err: outcome.error }, 'expiring commands failed');
      if (expired) this.options.logger.info({ event: 'commands_expired', count: expired }, 'commands expired without an answer');
    }
  }
}

function refusal(what: string, error: unknown): Rejection {
  return { reason: 'store_refused', detail: `${what}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}` };
}
