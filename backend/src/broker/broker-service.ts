import type { EventEmitter } from 'node:events';
import { createServer as createTcpServer, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import type { Logger } from '@iot/common/log';
import type { Service } from '@iot/common/service';
import { Aedes, type Client } from 'aedes';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { AedesPolicyHooks, type ConnectionInfo, PolicyRefusalError } from './aedes-hooks.ts';
import type { LoginGuardOptions } from './login-guard.ts';
import { MalformedLengthError, PacketSizeGuard, PacketTooLargeError } from './packet-size-guard.ts';
import type { BrokerPolicy } from './policy.ts';
import { PublishBackpressure } from './publish-backpressure.ts';
import { DEFAULT_SESSION_QUEUE_LIMIT, type SessionPersistence, SessionQueues } from './session-queues.ts';

export interface BrokerListenOptions {
  host: string;
  port: number;
  /** PEM certificate chain and private key, already read (main.ts reports unreadable files as config errors). */
  tls?: { port: number; cert: Buffer; key: Buffer };
  /** MQTT over WebSocket (3.1.1 §6) on this port, any path. */
  wsPort?: number;
}

export interface BrokerServiceOptions {
  policy: BrokerPolicy;
  listen: BrokerListenOptions;
  /** Connections sending a larger MQTT packet are closed (see packet-size-guard.ts). */
  maxPacketBytes: number;
  logger: Logger;
  /** Failed-login limits and hashing slots (login-guard.ts); defaults when omitted. */
  login?: Omit<LoginGuardOptions, 'policy'>;
  /** QoS 1/2 messages a persistent session may hold before publishers to it are held back (session-queues.ts). */
  sessionQueueLimit?: number;
}

interface Listener {
  transport: ConnectionInfo['transport'];
  port: number;
  close(): Promise<void>;
}

/**
 * The MQTT broker (aedes) with our policy on every listener. A misbehaving client only ever costs
 * its own connection: every error aedes, a socket, TLS or WebSocket reports becomes a JSON log line.
 */
export class BrokerService implements Service {
  private readonly options: BrokerServiceOptions;
  private readonly logger: Logger;
  private readonly hooks: AedesPolicyHooks;
  private broker: Aedes | undefined;
  private listeners: Listener[] = [];
  /** Raw connections, so a stop can end those aedes never registered (no CONNECT yet). */
  private readonly sockets = new Set<Duplex>();

  constructor(options: BrokerServiceOptions) {
    this.options = options;
    this.logger = options.logger;
    this.hooks = new AedesPolicyHooks(options.policy, options.logger, options.login);
  }

  /** The ports actually listened on, by transport. */
  ports(): Partial<Record<ConnectionInfo['transport'], number>> {
    return Object.fromEntries(this.listeners.map((l) => [l.transport, l.port]));
  }

  async start(): Promise<void> {
    if (this.options.policy.allowAnonymous) {
      this.logger.warn({ event: 'anonymous_allowed' }, 'MQTT_ALLOW_ANONYMOUS is on: clients without credentials get service rights; never do this outside local development');
    }
    const broker = await Aedes.createBroker({
      ...this.hooks.options(),
      // No routing queue in mqemitter (aedes's default caps routing at 100 messages and queues the
      // rest). Completing a queued message with no subscriber left calls the next one on the same
      // stack, so a backlog of them (a lagging subscriber gone) overflowed it: "RangeError: Maximum
      // call stack size exceeded" at mqemitter released → _do → aedes nextBatch. Without the queue
      // routing is bounded by the publishers themselves: aedes reads a client's next packets only
      // once the previous ones are routed, a subscriber's full socket holds that routing
      // (write → drain), and full persistent sessions hold the publish (publish-backpressure.ts).
      concurrency: 0,
    });
    this.broker = broker;
    const persistence = (broker as unknown as { persistence: SessionPersistence }).persistence;
    const queues = new SessionQueues({ limit: this.options.sessionQueueLimit ?? DEFAULT_SESSION_QUEUE_LIMIT, logger: this.logger });
    queues.attach(persistence);
    this.hooks.holdPublishesWith(new PublishBackpressure({ queues, persistence }));
    this.observe(broker);
    try {
      const { host, port, tls, wsPort } = this.options.listen;
      this.listeners.push(await this.listenTcp(host, port));
      if (tls !== undefined) this.listeners.push(await this.listenTls(host, tls));
      if (wsPort !== undefined) this.listeners.push(await this.listenWebSocket(host, wsPort));
    } catch (error) {
      await this.stop();
      throw error;
    }
    this.logger.info({ event: 'broker_ready', host: this.options.listen.host, ports: this.ports(), maxPayloadBytes: this.options.policy.maxPayloadBytes }, 'MQTT broker ready');
  }

  /** Stops accepting, disconnects every client, closes the broker. */
  async stop(): Promise<void> {
    const listeners = this.listeners;
    this.listeners = [];
    const closing = listeners.map((l) => l.close());
    const broker = this.broker;
    this.broker = undefined;
    if (broker !== undefined) await new Promise<void>((resolve) => broker.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(closing);
    this.logger.info({ event: 'broker_stopped' }, 'MQTT broker stopped');
  }

  private handle(connection: Duplex, info: ConnectionInfo): void {
    const broker = this.broker;
    if (broker === undefined) {
      connection.destroy();
      return;
    }
    this.sockets.add(connection);
    connection.once('close', () => this.sockets.delete(connection));
    // Raw sockets get an error listener at once: an error before aedes attaches its own must not crash us.
    connection.on('error', () => {});
    const guarded = new PacketSizeGuard(connection, this.options.maxPacketBytes);
    this.hooks.register(guarded, info);
    broker.handle(guarded);
  }

  private observe(broker: Aedes): void {
    const log = this.logger;
    broker.on('clientReady', (client) => {
      log.info({ event: 'client_connected', ...this.hooks.describe(client), protocolVersion: client.version, clean: client.clean }, 'client connected');
    });
    broker.on('clientDisconnect', (client) => log.info({ event: 'client_disconnected', ...this.hooks.describe(client) }, 'client disconnected'));
    broker.on('keepaliveTimeout', (client) => log.info({ event: 'keepalive_timeout', ...this.hooks.describe(client) }, 'client keepalive timed out'));
    broker.on('clientError', (client, error) => this.logClientError('client_error', client, error));
    broker.on('connectionError', (client, error) => this.logClientError('connection_error', client, error));
    // aedes emits 'error' for persistence and routing failures; unhandled, EventEmitter would throw.
    (broker as EventEmitter).on('error', (error: Error) => log.error({ event: 'broker_error', err: error }, 'broker error'));
  }

  private logClientError(event: string, client: Client, error: Error): void {
    if (error instanceof PolicyRefusalError) return; // logged by the hook with its context
    const fields = { ...this.hooks.describe(client), err: error };
    if (error instanceof PacketTooLargeError) {
      this.logger.warn({ event: 'packet_too_large', ...fields, packetBytes: error.packetBytes, limitBytes: error.limitBytes }, 'packet too large; connection closed');
    } else if (error instanceof MalformedLengthError) {
      this.logger.warn({ event: 'malformed_packet', ...fields }, 'malformed packet; connection closed');
    } else {
      this.logger.warn({ event, ...fields }, 'client connection failed');
    }
  }

  private listenTcp(host: string, port: number): Promise<Listener> {
    // No Nagle: acks and batches are small request/response packets; delaying them for coalescing
    // costs a stop-and-wait uplink ~40 ms per batch.
    const server = createTcpServer({ noDelay: true }, (socket) => this.handle(socket, { transport: 'tcp', remoteAddress: socket.remoteAddress }));
    return this.listenNet(server, 'tcp', host, port);
  }

  private listenTls(host: string, tls: NonNullable<BrokerListenOptions['tls']>): Promise<Listener> {
    const server = createTlsServer({ cert: tls.cert, key: tls.key, noDelay: true }, (socket) =>
      this.handle(socket, { transport: 'tls', remoteAddress: socket.remoteAddress }),
    );
    server.on('tlsClientError', (error: Error, socket: Socket) => {
      this.logger.warn({ event: 'tls_client_error', remoteAddress: socket.remoteAddress, err: error }, 'TLS handshake failed');
    });
    return this.listenNet(server, 'tls', host, tls.port);
  }

  private listenNet(server: NetServer, transport: Listener['transport'], host: string, port: number): Promise<Listener> {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        server.on('error', (error) => this.logger.error({ event: 'listener_error', transport, err: error }, 'listener error'));
        const address = server.address();
        const bound = typeof address === 'object' && address !== null ? address.port : port;
        this.logger.info({ event: 'broker_listening', transport, host, port: bound }, `listening for MQTT over ${transport}`);
        resolve({ transport, port: bound, close: () => new Promise<void>((done) => server.close(() => done())) });
      });
    });
  }

  private listenWebSocket(host: string, port: number): Promise<Listener> {
    const wss = new WebSocketServer({
      host,
      port,
      maxPayload: this.options.maxPacketBytes,
      // [MQTT-6.0.0-3]/[MQTT-6.0.0-4]: the server selects "mqtt" (3.1.1); MQTT.js offers "mqttv3.1" for 3.1.
      handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
    });
    wss.on('connection', (socket, request) => {
      socket.on('error', (error) => this.logger.warn({ event: 'ws_error', remoteAddress: request.socket.remoteAddress, err: error }, 'WebSocket error'));
      this.handle(createWebSocketStream(socket), { transport: 'ws', remoteAddress: request.socket.remoteAddress });
    });
    return new Promise((resolve, reject) => {
      wss.once('error', reject);
      wss.once('listening', () => {
        wss.off('error', reject);
        wss.on('error', (error) => this.logger.error({ event: 'listener_error', transport: 'ws', err: error }, 'listener error'));
        const address = wss.address();
        const bound = typeof address === 'object' && address !== null ? address.port : port;
        this.logger.info({ event: 'broker_listening', transport: 'ws', host, port: bound }, 'listening for MQTT over WebSocket');
        resolve({
          transport: 'ws',
          port: bound,
          close: () =>
            new Promise<void>((done) => {
              for (const client of wss.clients) client.terminate();
              wss.close(() => done());
            }),
        });
      });
    });
  }
}
