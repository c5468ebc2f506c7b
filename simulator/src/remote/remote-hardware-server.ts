import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { type Logger, silentLogger } from '@iot/common/log';
import type { Level } from '@iot/hardware';
import { readJsonLines } from '../control/json-lines.ts';
import { MAX_LINE_LENGTH, parseRemoteRequest, type RemoteRequest, type ServerMessage } from './remote-protocol.ts';
import { HelloRefusedError, RemoteSession } from './remote-session.ts';
import type { SimulatedFleet } from './simulated-fleet.ts';
import { encodeError, RemoteProtocolError } from './wire-errors.ts';

export interface RemoteHardwareServerOptions {
  fleet: SimulatedFleet;
  /** Address to bind; default 127.0.0.1 (containers set 0.0.0.0 through SIM_BIND). */
  host?: string;
  /** Port to bind; 0 (the default) picks a free one, see {@link RemoteHardwareServer.port}. */
  port?: number;
  logger?: Logger;
  /** Connections served at once; the next one is told so and closed. Default 4000. */
  maxConnections?: number;
  /** Pins, buses and watches one connection may hold. Default 256. */
  maxHandlesPerConnection?: number;
  /** Requests one connection may have waiting; more are answered with an error at once. Default 64. */
  maxQueuedRequests?: number;
  /** A connection that has not said hello by then is closed. Default 10 s. */
  helloTimeoutMs?: number;
}

/** Output a client has not read yet; past this it is not reading at all and is dropped. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

/**
 * Serves the simulated hardware of a {@link SimulatedFleet} to device services over TCP
 * (remote-protocol.ts). Each connection says hello as one device and then works that device's
 * pins and buses. A broken or hostile client gets an error or is dropped; it cannot crash the
 * simulator or touch another device.
 */
export class RemoteHardwareServer {
  readonly fleet: SimulatedFleet;
  private readonly server: Server;
  private readonly logger: Logger;
  private readonly options: Required<Omit<RemoteHardwareServerOptions, 'fleet' | 'host' | 'port' | 'logger'>>;
  private readonly connections = new Set<Connection>();
  /** Live connection by the client's session id, so a reconnecting client replaces its half-dead one. */
  private readonly sessions = new Map<string, Connection>();

  private constructor(options: RemoteHardwareServerOptions) {
    this.fleet = options.fleet;
    this.logger = options.logger ?? silentLogger();
    this.options = {
      maxConnections: options.maxConnections ?? 4000,
      maxHandlesPerConnection: options.maxHandlesPerConnection ?? 256,
      maxQueuedRequests: options.maxQueuedRequests ?? 64,
      helloTimeoutMs: options.helloTimeoutMs ?? 10_000,
    };
    this.server = createServer((socket) => this.accept(socket));
  }

  static async listen(options: RemoteHardwareServerOptions): Promise<RemoteHardwareServer> {
    const served = new RemoteHardwareServer(options);
    const host = options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      const failed = (error: Error) => reject(new Error(`cannot serve remote hardware on ${host}:${options.port ?? 0}: ${error.message}`));
      served.server.once('error', failed);
      served.server.listen(options.port ?? 0, host, () => {
        served.server.off('error', failed);
        resolve();
      });
    });
    served.server.on('error', (error) => served.logger.warn({ event: 'remote_server_error', err: error }, 'remote hardware server error'));
    return served;
  }

  get host(): string {
    return (this.server.address() as AddressInfo).address;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Open connections, and how many of them said hello, for /health. */
  stats(): { connections: number; devicesConnected: number } {
    const devices = new Set<string>();
    for (const connection of this.connections) if (connection.session.device !== undefined) devices.add(connection.session.device.name);
    return { connections: this.connections.size, devicesConnected: devices.size };
  }

  /** Stops listening, drops every connection and releases what they opened. The fleet stays. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    await Promise.all([...this.connections].map((connection) => connection.drop()));
    await closed;
  }

  private accept(socket: Socket): void {
    socket.on('error', () => {});
    if (this.connections.size >= this.options.maxConnections) {
      this.logger.warn({ event: 'connection_refused', peer: peerOf(socket), max: this.options.maxConnections }, 'too many remote hardware connections');
      const refusal: ServerMessage = {
        id: null,
        ok: false,
        error: { type: 'ProtocolError', message: `the simulator serves at most ${this.options.maxConnections} connections at once; try again later` },
      };
      socket.end(`${JSON.stringify(refusal)}\n`);
      return;
    }
    const connection = new Connection(socket, this);
    this.connections.add(connection);
    socket.on('close', () => {
      this.connections.delete(connection);
      if (connection.sessionId !== undefined && this.sessions.get(connection.sessionId) === connection) this.sessions.delete(connection.sessionId);
      void connection.session.release();
      const device = connection.session.device;
      if (device !== undefined) {
        this.logger.info({ event: 'device_disconnected', device: device.name, client: connection.session.client, peer: connection.peer }, `"${device.name}" disconnected`);
      }
    });
  }

  /** @internal Called by a connection's hello: replaces an older connection of the same client. */
  async claimSession(sessionId: string, connection: Connection): Promise<void> {
    const older = this.sessions.get(sessionId);
    this.sessions.set(sessionId, connection);
    if (older !== undefined && older !== connection) {
      this.logger.info({ event: 'session_replaced', peer: older.peer }, 'a reconnecting client replaced its old connection');
      await older.drop();
    }
  }

  /** @internal */
  get settings() {
    return this.options;
  }

  /** @internal */
  get log(): Logger {
    return this.logger;
  }
}

/** One client connection: reads its lines, runs its requests one after the other, answers them. */
class Connection {
  readonly socket: Socket;
  readonly session: RemoteSession;
  readonly peer: string;
  sessionId: string | undefined;
  private readonly server: RemoteHardwareServer;
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  private helloTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(socket: Socket, server: RemoteHardwareServer) {
    this.socket = socket;
    this.server = server;
    this.peer = peerOf(socket);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 5_000);
    this.session = new RemoteSession(server.fleet, { maxHandles: server.settings.maxHandlesPerConnection }, {
      pushEdge: (watch: number, level: Level, atMs: number) => this.send({ event: 'edge', watch, level, atMs }),
    });
    this.helloTimer = setTimeout(() => {
      this.refuse(null, `no hello within ${server.settings.helloTimeoutMs} ms; closing`);
    }, server.settings.helloTimeoutMs);
    socket.on('close', () => clearTimeout(this.helloTimer));
    readJsonLines(socket, {
      maxLineLength: MAX_LINE_LENGTH,
      onLine: (line) => this.receive(line),
      onOverflow: () => this.refuse(null, `message longer than ${MAX_LINE_LENGTH} characters; closing the connection`),
    });
  }

  /** Closes the connection and waits until what it opened is released. */
  async drop(): Promise<void> {
    this.socket.destroy();
    await this.session.release();
  }

  private receive(line: string): void {
    const parsed = parseRemoteRequest(line);
    if ('error' in parsed) {
      this.server.log.debug({ event: 'protocol_error', peer: this.peer, problem: parsed.error }, 'invalid remote hardware message');
      if (this.session.device === undefined) this.refuse(parsed.id, `${parsed.error} (the first message must be a hello)`);
      else this.fail(parsed.id, new RemoteProtocolError(parsed.error));
      return;
    }
    if (this.queued >= this.server.settings.maxQueuedRequests) {
      this.fail(parsed.id, new RemoteProtocolError(`more than ${this.server.settings.maxQueuedRequests} requests waiting on this connection; wait for answers before sending more`));
      return;
    }
    this.queued++;
    this.queue = this.queue.then(async () => {
      try {
        await this.run(parsed.id, parsed.request);
      } catch (error) {
        // A bug in serving one request must cost only that request.
        this.server.log.error({ event: 'remote_request_failed', peer: this.peer, op: parsed.request.op, err: error }, 'remote hardware request failed unexpectedly');
        this.fail(parsed.id, error);
      } finally {
        this.queued--;
      }
    });
  }

  private async run(id: number, request: RemoteRequest): Promise<void> {
    if (this.socket.destroyed) return;
    if (request.op === 'hello') {
      if (this.session.device === undefined) {
        this.sessionId = request.session;
        await this.server.claimSession(request.session, this);
      }
      try {
        const result = await this.session.hello(request);
        clearTimeout(this.helloTimer);
        this.server.log.info(
          { event: 'device_connected', device: result.device, client: request.client, peer: this.peer, created: result.created },
          `"${result.device}" connected${request.client === undefined ? '' : ` (${request.client})`}`,
        );
        this.send({ id, ok: true, result });
      } catch (error) {
        if (!(error instanceof HelloRefusedError)) {
          this.fail(id, error);
          return;
        }
        this.server.log.warn({ event: 'hello_refused', device: request.device, peer: this.peer, reason: error.message }, 'remote hardware hello refused');
        this.refuse(id, error.message);
      }
      return;
    }
    if (this.session.device === undefined) {
      this.refuse(id, `say hello first: {"id":1,"op":"hello","protocol":1,"device":"<name>","session":"<random>"}`);
      return;
    }
    try {
      const result = await this.session.perform(request);
      this.send(result === undefined ? { id, ok: true } : { id, ok: true, result });
    } catch (error) {
      this.fail(id, error);
    }
  }

  private fail(id: number | null, error: unknown): void {
    this.send({ id, ok: false, error: encodeError(error) });
  }

  /** Answers with a protocol error and closes the connection. */
  private refuse(id: number | null, message: string): void {
    if (this.socket.destroyed) return;
    const refusal: ServerMessage = { id, ok: false, error: { type: 'ProtocolError', message } };
    this.socket.end(`${JSON.stringify(refusal)}\n`);
    // A peer that does not close its side must not keep the slot.
    setTimeout(() => this.socket.destroy(), 1_000).unref();
  }

  private send(message: ServerMessage): void {
    if (!this.socket.writable) return;
    this.socket.write(`${JSON.stringify(message)}\n`);
    if (this.socket.writableLength > MAX_BUFFERED_BYTES) {
      this.server.log.warn({ event: 'connection_dropped', peer: this.peer, reason: 'not reading' }, 'dropping a remote hardware client that does not read its answers');
      this.socket.destroy();
    }
  }
}

function peerOf(socket: Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}
