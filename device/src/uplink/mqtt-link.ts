import type { Clock } from '@iot/common/clock';
import type { Logger } from '@iot/common/log';
import { connect, type IClientOptions, type IClientPublishOptions, type MqttClient } from 'mqtt';

/** How to reach the broker: host, port, protocol, TLS material, credentials, keepalive. */
export type MqttConnection = Pick<
  IClientOptions,
  'host' | 'port' | 'protocol' | 'keepalive' | 'username' | 'password' | 'rejectUnauthorized' | 'ca' | 'cert' | 'key'
>;

export interface Subscription {
  topic: string;
  /** Without it the link is useless (the ack topic): a refusal ends the connection and is retried. */
  required: boolean;
}

export interface MqttLinkOptions {
  connection: MqttConnection;
  /** 4 = MQTT 3.1.1, 5 = MQTT 5. */
  protocolVersion: 4 | 5;
  clientId: string;
  /** The Last Will, built at every connect (its timestamp is the connect time). */
  will: () => { topic: string; payload: string };
  subscriptions: readonly Subscription[];
  logger: Logger;
  clock: Clock;
  /** Called for every message; exceptions are caught and logged. */
  onMessage: (topic: string, payload: Buffer, retained: boolean) => void;
  /** Connected and subscribed: publishing makes sense now. */
  onReady: () => void;
  /** The connection is gone; anything in flight may or may not have arrived. */
  onDown: () => void;
  /** Backoff between connection attempts, doubled per failure. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  connectTimeoutMs?: number;
}

/**
 * The uplink's MQTT connection. Each connection is a fresh MQTT.js client with automatic
 * reconnection off (`reconnectPeriod: 0`): MQTT.js keeps unsent and unacknowledged packets in
 * memory and replays them after a reconnect (docs/delivery-guarantee.md §5; MQTT.js issues 398, 607, 2015), which
 * would re-send stale statuses and batches behind newer ones. Here nothing survives a connection:
 * the uplink re-publishes from its durable cursor instead. Publishing is refused while not
 * ready, so MQTT.js' offline queue never fills.
 */
export class MqttLink {
  private client: MqttClient | undefined;
  private isReady = false;
  private connections = 0;
  private readonly readyWaiters = new Set<() => void>();
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private lastError = '';
  private readonly options: MqttLinkOptions;

  constructor(options: MqttLinkOptions) {
    this.options = options;
  }

  /** Connected and subscribed. */
  get ready(): boolean {
    return this.isReady;
  }

  /** Counts connections that became ready: a batch published on an earlier one may be lost. */
  get generation(): number {
    return this.connections;
  }

  /** Connects in the background and keeps reconnecting until {@link stop}. */
  start(): void {
    this.loop ??= this.run(this.stopping.signal);
  }

  /**
   * Publishes `lastWords` (if connected, waiting up to `timeoutMs` for the broker's PUBACK), then
   * disconnects cleanly, which discards the Last Will.
   */
  async stop(lastWords?: { topic: string; payload: string; retain: boolean }, timeoutMs = 2000): Promise<void> {
    const client = this.client;
    if (lastWords !== undefined && this.isReady) await this.publishConfirmed(lastWords.topic, lastWords.payload, { qos: 1, retain: lastWords.retain }, timeoutMs);
    this.stopping.abort();
    if (client !== undefined) await endClient(client, timeoutMs);
    await this.loop;
  }

  /** Resolves when ready, or when `signal` aborts. */
  whenReady(signal: AbortSignal): Promise<void> {
    if (this.isReady || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.readyWaiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.readyWaiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Publishes if ready; returns false (and publishes nothing) otherwise. Failures are logged. */
  publish(topic: string, payload: string | Buffer, options: IClientPublishOptions): boolean {
    const client = this.client;
    if (!this.isReady || client === undefined || !client.connected) return false;
    client.publish(topic, payload, options, (error) => {
      // MQTT.js passes null, not undefined, on success.
      if (error) this.options.logger.debug({ event: 'publish_failed', topic, err: error }, 'publish failed');
    });
    return true;
  }

  /** Publishes if ready and resolves true once the broker acknowledged it (QoS 1), false on failure or timeout. */
  publishConfirmed(topic: string, payload: string | Buffer, options: IClientPublishOptions, timeoutMs: number): Promise<boolean> {
    const client = this.client;
    if (!this.isReady || client === undefined || !client.connected) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      client.publish(topic, payload, options, (error) => {
        clearTimeout(timer);
        resolve(!error);
      });
    });
  }

  private async run(signal: AbortSignal): Promise<void> {
    const { clock } = this.options;
    const minMs = this.options.reconnectMinMs ?? 500;
    const maxMs = this.options.reconnectMaxMs ?? 15_000;
    let failures = 0;
    while (!signal.aborted) {
      const becameReady = await this.connectOnce(signal);
      if (signal.aborted) break;
      // A connection that never got its subscriptions counts as a failure too, so a broker that
      // refuses them is not hammered.
      failures = becameReady ? 0 : failures + 1;
      await clock.sleep(Math.min(maxMs, minMs * 2 ** Math.min(failures, 10)), signal);
    }
  }

  /** One connection, from CONNECT to its close; resolves whether it became ready. */
  private connectOnce(signal: AbortSignal): Promise<boolean> {
    const { logger, connection } = this.options;
    const will = this.options.will();
    const client = connect({
      ...connection,
      protocolVersion: this.options.protocolVersion,
      clientId: this.options.clientId,
      // No broker session is relied on: everything unconfirmed is re-sent from Redis.
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: this.options.connectTimeoutMs ?? 10_000,
      queueQoSZero: false,
      resubscribe: false,
      will: { topic: will.topic, payload: Buffer.from(will.payload), qos: 1, retain: true },
    });
    // Stop-and-wait sends one batch, then waits: without TCP_NODELAY, Nagle holds the batch's last
    // segment until the previous one is acknowledged, and a delayed ACK adds ~40 ms per batch.
    (client.stream as { setNoDelay?: (noDelay: boolean) => void } | undefined)?.setNoDelay?.(true);
    this.client = client;
    let connected = false;
    const generationBefore = this.connections;
    return new Promise((resolve) => {
      let closed = false;
      const onClose = () => {
        if (closed) return;
        closed = true;
        const wasReady = this.isReady;
        this.isReady = false;
        if (this.client === client) this.client = undefined;
        client.removeAllListeners('message');
        // Fails the callbacks of anything still in flight; nothing of this connection is kept.
        client.end(true);
        if (connected && !signal.aborted) {
          logger.warn({ event: 'uplink_disconnected', host: connection.host, port: connection.port, was_ready: wasReady }, 'lost the connection to the broker; reconnecting');
        }
        if (connected) this.options.onDown();
        resolve(this.connections !== generationBefore);
      };
      client.on('connect', () => {
        connected = true;
        this.lastError = '';
        logger.info(
          { event: 'uplink_connected', host: connection.host, port: connection.port, client_id: this.options.clientId, protocol_version: this.options.protocolVersion },
          'connected to the broker',
        );
        this.subscribe(client);
      });
      client.on('message', (topic, payload, packet) => {
        try {
          this.options.onMessage(topic, payload, packet.retain === true);
        } catch (error) {
          logger.error({ event: 'message_handler_failed', topic, err: error }, 'handling an incoming message failed');
        }
      });
      client.on('error', (error) => {
        if (error.message === this.lastError) return;
        this.lastError = error.message;
        logger.warn({ event: 'mqtt_error', host: connection.host, port: connection.port, err: error }, 'MQTT connection problem');
      });
      client.on('close', onClose);
      client.on('end', onClose);
    });
  }

  private subscribe(client: MqttClient): void {
    const { logger, subscriptions } = this.options;
    client.subscribe(
      subscriptions.map((s) => s.topic),
      { qos: 1 },
      (error, granted) => {
        if (this.client !== client || !client.connected) return;
        const refused = subscriptions.filter((s) => error !== null || granted?.find((g) => g.topic === s.topic)?.qos === 128);
        if (refused.length > 0) {
          logger.error({ event: 'subscribe_failed', refused: refused.map((s) => s.topic), err: error }, 'the broker refused subscriptions');
        }
        if (refused.some((s) => s.required)) {
          // Without acks nothing can be confirmed; try again on a new connection.
          client.end(true);
          return;
        }
        this.isReady = true;
        this.connections++;
        for (const waiter of [...this.readyWaiters]) waiter();
        this.options.onReady();
      },
    );
  }
}

/** Clean DISCONNECT (the broker then drops the Will); the socket is destroyed after `timeoutMs`. */
function endClient(client: MqttClient, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      // end(true) is ignored while a clean end is under way, so cut the socket itself.
      client.stream?.destroy();
      resolve();
    }, timeoutMs);
    client.end(false, {}, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
