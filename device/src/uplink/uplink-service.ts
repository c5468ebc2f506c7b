import type { Clock } from '@iot/common/clock';
import type { Logger } from '@iot/common/log';
import {
  type DesiredConfig,
  desiredConfig,
  MAX_PAYLOAD_BYTES,
  type ReadingsBatch,
  type ReportedConfig,
  type TopicScheme,
} from '@iot/common/protocol';
import type { Service } from '@iot/common/service';
import type { Redis } from 'ioredis';
import { AckTracker } from './ack-tracker.ts';
import type { BatchLimits } from './batch-builder.ts';
import { BatchSender } from './batch-sender.ts';
import type { CommandOutcome } from './commands/index.ts';
import { CursorStore } from './cursor-store.ts';
import { type MqttConnection, MqttLink } from './mqtt-link.ts';
import { RedisMemory } from './redis-memory.ts';
import { SenderSettingsReader } from './sender-settings.ts';
import { offlineStatus, StatusReporter } from './status-reporter.ts';
import { StreamTrimmer } from './stream-trimmer.ts';

/** What the uplink needs of the command handler (commands/command-handler.ts). */
export interface CommandRunner {
  execute(payload: Buffer): Promise<CommandOutcome>;
}

/** What the uplink needs of the configuration twin (config-twin.ts). */
export interface ConfigTwinPort {
  applyDesired(desired: DesiredConfig): Promise<ReportedConfig>;
  report(): Promise<ReportedConfig>;
}

export interface UplinkServiceOptions {
  deviceId: string;
  meta?: ReadingsBatch['meta'];
  topics: TopicScheme;
  connection: MqttConnection;
  protocolVersion: 4 | 5;
  /** The shared, fail-fast Redis connection; the caller closes it after {@link UplinkService.stop}. */
  redis: Redis;
  /** A second connection, for XREAD BLOCK only; the service disconnects it on stop. */
  blockingRedis: Redis;
  commands: CommandRunner;
  twin: ConfigTwinPort;
  clock: Clock;
  logger: Logger;
  limits: BatchLimits;
  /** Batches in flight at once (UPLINK_WINDOW). */
  window: number;
  ackTimeoutMs: number;
  /** UPLINK_HISTORY: confirmed entries kept behind the cursor. */
  history: number;
  statusIntervalMs: number;
  /** INTERVAL_SECONDS, reported while `measurement:interval` is unset. */
  defaultMeasurementIntervalSeconds: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  trimEveryMs?: number;
}

/** Commands and desired configurations waiting to be handled; more are dropped (and logged). */
const MAX_INBOX = 100;
const RETRY_MS = 1000;
const ANSWER_TIMEOUT_MS = 5000;
const INBOX_DRAIN_MS = 2000;

/**
 * The uplink (mqtthandler): forwards `measurement:values` to the backend with the end-to-end
 * guarantee of docs/delivery-guarantee.md §1–§4 (batch-sender.ts), reports the device status (status-reporter.ts),
 * runs commands from the request and broadcast topics, and applies the configuration twin
 * (docs/configuration-twin.md §3). Broker and Redis outages are waited out; a bad message is logged and dropped.
 */
export class UplinkService implements Service {
  private readonly link: MqttLink;
  private readonly sender: BatchSender;
  private readonly status: StatusReporter;
  private readonly cursor: CursorStore;
  private readonly stopping = new AbortController();
  private loops: Promise<unknown> | undefined;
  private inbox: Promise<void> = Promise.resolve();
  private inboxLength = 0;
  private pendingDesired: DesiredConfig | undefined;
  private reportPending = false;
  /** Twin work failed and was logged; further failures are quiet until it succeeds. */
  private twinFailing = false;
  private lastReport: ReportedConfig | undefined;
  private readonly onRedisReady = () => this.cursor.markStale();
  private readonly topic: {
    readings: string;
    ack: string;
    status: string;
    request: string;
    broadcast: string;
    response: string;
    values: string;
    desired: string;
    reported: string;
  };
  private readonly options: UplinkServiceOptions;

  constructor(options: UplinkServiceOptions) {
    this.options = options;
    const { topics, deviceId, redis, clock, logger } = options;
    this.topic = {
      readings: topics.topic('readings', deviceId),
      ack: topics.topic('ack', deviceId),
      status: topics.topic('status', deviceId),
      request: topics.topic('request', deviceId),
      broadcast: topics.topic('broadcast', deviceId),
      response: topics.topic('response', deviceId),
      values: topics.topic('values', deviceId),
      desired: topics.topic('configDesired', deviceId),
      reported: topics.topic('configReported', deviceId),
    };
    const memory = new RedisMemory({ redis, clock, logger });
    this.cursor = new CursorStore({ redis, logger, onWriteError: (error) => memory.noteWriteError(error) });
    const settings = new SenderSettingsReader({ redis, logger, defaultMeasurementIntervalSeconds: options.defaultMeasurementIntervalSeconds });
    const trimmer = new StreamTrimmer({ redis, keep: options.history, logger });
    this.link = new MqttLink({
      connection: options.connection,
      protocolVersion: options.protocolVersion,
      clientId: `device-${deviceId}`,
      will: () => ({ topic: this.topic.status, payload: JSON.stringify(offlineStatus(clock.now())) }),
      subscriptions: [
        { topic: this.topic.ack, required: true },
        { topic: this.topic.request, required: false },
        { topic: this.topic.broadcast, required: false },
        { topic: this.topic.desired, required: false },
      ],
      logger,
      clock,
      onMessage: (topic, payload, retained) => this.onMessage(topic, payload, retained),
      onReady: () => this.onReady(),
      onDown: () => this.sender.wake(),
      ...(options.reconnectMinMs === undefined ? {} : { reconnectMinMs: options.reconnectMinMs }),
      ...(options.reconnectMaxMs === undefined ? {} : { reconnectMaxMs: options.reconnectMaxMs }),
    });
    this.sender = new BatchSender({
      redis,
      blockingRedis: options.blockingRedis,
      link: this.link,
      cursor: this.cursor,
      settings,
      trimmer,
      acks: new AckTracker({ logger, window: options.window }),
      memory,
      clock,
      logger,
      deviceId,
      ...(options.meta === undefined ? {} : { meta: options.meta }),
      topic: this.topic.readings,
      limits: options.limits,
      window: options.window,
      ackTimeoutMs: options.ackTimeoutMs,
      ...(options.trimEveryMs === undefined ? {} : { trimEveryMs: options.trimEveryMs }),
    });
    this.status = new StatusReporter({
      link: this.link,
      topic: this.topic.status,
      cursor: this.cursor,
      trimmer,
      memory,
      settings,
      backlog: () => this.sender.backlog,
      configVersion: () => this.lastReport?.version,
      clock,
      logger,
      intervalMs: options.statusIntervalMs,
    });
  }

  async start(): Promise<void> {
    const signal = this.stopping.signal;
    this.options.redis.on('ready', this.onRedisReady);
    this.link.start();
    this.loops = Promise.all([this.sender.run(signal), this.status.run(signal), this.retryLoop(signal)]);
    this.options.logger.info(
      { event: 'uplink_started', device: this.options.deviceId, readings_topic: this.topic.readings, ...this.options.limits, window: this.options.window, ack_timeout_ms: this.options.ackTimeoutMs },
      'uplink started',
    );
  }

  /** Stops sending, publishes the retained offline status, then disconnects cleanly. */
  async stop(): Promise<void> {
    this.stopping.abort();
    // A blocked XREAD only returns at its timeout; cut it off.
    this.options.blockingRedis.disconnect();
    await this.loops;
    await Promise.race([this.inbox, this.options.clock.sleep(INBOX_DRAIN_MS)]);
    await this.cursor.flush();
    await this.link.stop({ topic: this.topic.status, payload: JSON.stringify(offlineStatus(this.options.clock.now())), retain: true });
    this.options.redis.off('ready', this.onRedisReady);
    this.options.logger.info({ event: 'uplink_stopped', confirmed: this.cursor.confirmed ?? null }, 'uplink stopped');
  }

  /**
   * Publishes one original-format readings message on the values topic (send_measurements).
   * Rejects when not connected or when the broker does not confirm it in time.
   */
  async publishValues(readings: Record<string, string>[]): Promise<void> {
    if (!this.link.ready) throw new Error('not connected to the broker');
    const ok = await this.link.publishConfirmed(this.topic.values, JSON.stringify(readings), { qos: 1 }, this.options.ackTimeoutMs);
    if (!ok) throw new Error('the broker did not confirm the publication');
  }

  private onReady(): void {
    this.sender.wake();
    void this.status.publishNow('connected');
    // Every connect: the backend compares the report with its desired version and re-sends a newer one.
    this.reportPending = true;
    void this.publishReport();
  }

  private onMessage(topic: string, payload: Buffer, retained: boolean): void {
    if (topic === this.topic.ack) {
      this.sender.handleAck(payload);
      return;
    }
    if (topic === this.topic.request || topic === this.topic.broadcast) {
      this.enqueue(topic, () => this.runCommand(payload, retained));
      return;
    }
    if (topic === this.topic.desired) {
      this.enqueue(topic, () => this.applyDesired(payload));
      return;
    }
    this.options.logger.warn({ event: 'message_unexpected', topic }, 'message on a topic the uplink did not subscribe to');
  }

  /** Handles inbound work one message at a time, so commands run in the order they arrived. */
  private enqueue(topic: string, work: () => Promise<void>): void {
    if (this.inboxLength >= MAX_INBOX) {
      this.options.logger.warn({ event: 'message_dropped', topic, waiting: this.inboxLength }, 'too many messages waiting; dropped one');
      return;
    }
    this.inboxLength++;
    this.inbox = this.inbox
      .then(work)
      .catch((error: unknown) => this.options.logger.error({ event: 'message_handler_failed', topic, err: error }, 'handling a message failed'))
      .finally(() => {
        this.inboxLength--;
      });
  }

  private async runCommand(payload: Buffer, retained: boolean): Promise<void> {
    const { logger, commands } = this.options;
    if (retained) {
      // A retained command would run again on every connect (a retained reboot: a reboot loop).
      logger.warn({ event: 'command_ignored', reason: 'retained' }, 'ignored a retained command');
      return;
    }
    const outcome = await commands.execute(payload);
    const sent = await this.link.publishConfirmed(this.topic.response, JSON.stringify(outcome.response), { qos: 1 }, ANSWER_TIMEOUT_MS);
    if (!sent) logger.warn({ event: 'response_not_sent', command: outcome.response.command, id: outcome.response.id }, 'could not publish the answer to a command');
    await outcome.afterResponse?.();
  }

  private async applyDesired(payload: Buffer): Promise<void> {
    // The backend clears a retained desired configuration with an empty payload.
    if (payload.length === 0) return;
    const desired = parseDesired(payload);
    if (!desired.ok) {
      this.options.logger.warn({ event: 'config_desired_invalid', problem: desired.problem }, 'ignored an invalid desired configuration');
      return;
    }
    this.pendingDesired = desired.value;
    await this.applyPending();
  }

  private async applyPending(): Promise<void> {
    const desired = this.pendingDesired;
    if (desired === undefined) return;
    try {
      const report = await this.options.twin.applyDesired(desired);
      if (this.pendingDesired === desired) this.pendingDesired = undefined;
      this.twinFailing = false;
      this.publishReported(report);
    } catch (error) {
      if (this.twinFailing) return;
      this.twinFailing = true;
      this.options.logger.warn(
        { event: 'config_apply_failed', version: desired.version, err: error },
        'could not apply the desired configuration; will retry',
      );
    }
  }

  private async publishReport(): Promise<void> {
    try {
      const report = await this.options.twin.report();
      this.twinFailing = false;
      this.reportPending = !this.publishReported(report);
    } catch (error) {
      if (this.twinFailing) return;
      this.twinFailing = true;
      this.options.logger.warn({ event: 'config_report_failed', err: error }, 'could not read the configuration to report; will retry');
    }
  }

  private publishReported(report: ReportedConfig): boolean {
    this.lastReport = report;
    const sent = this.link.publish(this.topic.reported, JSON.stringify(report), { qos: 1, retain: true });
    if (sent) this.options.logger.info({ event: 'config_reported', version: report.version }, 'reported the effective configuration');
    return sent;
  }

  /** Retries twin work that failed while Redis or the broker was unavailable. */
  private async retryLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.options.clock.sleep(RETRY_MS, signal);
      if (signal.aborted || !this.link.ready) continue;
      if (this.pendingDesired !== undefined) this.enqueue(this.topic.desired, () => this.applyPending());
      else if (this.reportPending) await this.publishReport();
    }
  }
}

function parseDesired(payload: Buffer): { ok: true; value: DesiredConfig } | { ok: false; problem: string } {
  if (payload.length > MAX_PAYLOAD_BYTES) return { ok: false, problem: `payload of ${payload.length} bytes` };
  let data: unknown;
  try {
    data = JSON.parse(payload.toString('utf8'));
  } catch {
    return { ok: false, problem: 'not JSON' };
  }
  const parsed = desiredConfig.safeParse(data);
  if (parsed.success) return { ok: true, value: parsed.data };
  return {
    ok: false,
    problem: parsed.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`)
      .join('; '),
  };
}
