import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { type Clock, systemClock } from '@iot/common/clock';

export interface TcpProxyOptions {
  /** Where accepted connections are forwarded to, e.g. the broker. */
  targetHost: string;
  targetPort: number;
  /** Port to listen on (127.0.0.1); a free one when omitted. */
  listenPort?: number;
  /** Times the added latency; the OS clock by default. */
  clock?: Clock;
}

/** The end of one direction's byte stream (the peer sent FIN), queued behind its data. */
const END = null;
type Item = Buffer | typeof END;

/**
 * One direction of a proxied connection. Every chunk gets a due time of "now + latency", but never
 * earlier than the chunk before it, and a single pump delivers the queue head when it is due: a TCP
 * byte stream must stay in order even when the latency changes or chunks arrive in bursts, which a
 * timer per chunk would not guarantee.
 */
class DelayedLane {
  private readonly queue: { due: number; item: Item }[] = [];
  private lastDue = 0;
  private pumping = false;
  private readonly deliver: (item: Item) => void;
  private readonly latencyMs: () => number;
  private readonly clock: Clock;
  private readonly signal: AbortSignal;

  constructor(deliver: (item: Item) => void, latencyMs: () => number, clock: Clock, signal: AbortSignal) {
    this.deliver = deliver;
    this.latencyMs = latencyMs;
    this.clock = clock;
    this.signal = signal;
  }

  push(item: Item): void {
    const latency = this.latencyMs();
    if (latency <= 0 && this.queue.length === 0) {
      this.deliver(item);
      return;
    }
    const due = Math.max(this.clock.now() + latency, this.lastDue);
    this.lastDue = due;
    this.queue.push({ due, item });
    if (!this.pumping) void this.pump();
  }

  /** Forgets everything in flight, as a partition loses the packets on the wire. */
  drop(): void {
    this.queue.length = 0;
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.queue.length > 0 && !this.signal.aborted) {
        const wait = this.queue[0]!.due - this.clock.now();
        if (wait > 0) {
          await this.clock.sleep(wait, this.signal);
          continue; // re-check: the queue may have been dropped, or the sleep ended early
        }
        this.deliver(this.queue.shift()!.item);
      }
    } finally {
      this.pumping = false;
    }
  }
}

/** A client connection and, unless it was accepted during a partition, its upstream twin. */
class ProxiedConnection {
  /** Lived through a partition: its streams lost bytes, so it never forwards again. */
  severed = false;
  readonly client: Socket;
  readonly upstream: Socket | undefined;
  private readonly toUpstream: DelayedLane | undefined;
  private readonly toClient: DelayedLane | undefined;
  private readonly lanes = new AbortController();
  private readonly onError: () => void;
  private readonly onFinished: (connection: ProxiedConnection) => void;
  private finished = false;

  constructor(
    client: Socket,
    upstream: Socket | undefined,
    settings: { latencyMs: () => number; clock: Clock; onError: () => void; onFinished: (connection: ProxiedConnection) => void },
  ) {
    this.client = client;
    this.upstream = upstream;
    this.onError = settings.onError;
    this.onFinished = settings.onFinished;
    this.watch(client);
    client.setNoDelay(true);
    if (upstream === undefined) {
      // Accepted while partitioned: the handshake succeeded, then silence. Read and discard.
      this.severed = true;
      client.on('data', () => {});
      client.on('end', () => client.end());
      return;
    }
    this.watch(upstream);
    upstream.setNoDelay(true);
    this.toUpstream = new DelayedLane((item) => this.forward(item, client, upstream), settings.latencyMs, settings.clock, this.lanes.signal);
    this.toClient = new DelayedLane((item) => this.forward(item, upstream, client), settings.latencyMs, settings.clock, this.lanes.signal);
    this.relay(client, upstream, this.toUpstream);
    this.relay(upstream, client, this.toClient);
  }

  /** From now on nothing crosses, in either direction; bytes in flight are lost. */
  sever(): void {
    this.severed = true;
    this.toUpstream?.drop();
    this.toClient?.drop();
    // Keep reading so senders see a healthy socket and what they send is dropped, not buffered.
    this.client.resume();
    this.upstream?.resume();
  }

  destroy(): void {
    this.client.destroy();
    this.upstream?.destroy();
  }

  private relay(source: Socket, target: Socket, lane: DelayedLane): void {
    source.on('data', (chunk: Buffer) => {
      if (!this.severed) lane.push(chunk);
    });
    source.on('end', () => {
      // During a partition the FIN does not reach the far side either; answer it locally only.
      if (this.severed) source.end();
      else lane.push(END);
    });
    source.on('close', (hadError) => {
      // A reset (or our own write failure) tears down the pair, unless the partition hides it.
      if (hadError && !this.severed) target.destroy();
    });
  }

  private forward(item: Item, source: Socket, target: Socket): void {
    if (this.severed || target.destroyed) return;
    if (item === END) {
      target.end();
      return;
    }
    // Backpressure: stop reading from the sender while the receiver's buffer is full.
    if (!target.write(item) && !this.severed && !source.isPaused()) {
      source.pause();
      target.once('drain', () => {
        if (!this.severed) source.resume();
      });
    }
  }

  private watch(socket: Socket): void {
    socket.on('error', () => this.onError());
    socket.on('close', () => {
      if (this.finished || !this.client.destroyed || !(this.upstream?.destroyed ?? true)) return;
      this.finished = true;
      this.lanes.abort();
      this.onFinished(this);
    });
  }
}

/**
 * A TCP proxy the harness puts between a device's uplink and the broker, to inject network faults
 * (docs/architecture.md §8): a silent partition and one-way latency. It is a test tool: it never logs and
 * never throws on socket errors, it counts them in {@link errors}.
 */
export class TcpProxy {
  /** Connections accepted since start, including those accepted during a partition. */
  connections = 0;
  /** Socket errors seen (ECONNRESET, ECONNREFUSED from the target, ...). */
  errors = 0;
  private readonly options: TcpProxyOptions;
  private readonly clock: Clock;
  private readonly live = new Set<ProxiedConnection>();
  private server: Server | undefined;
  private listenPort: number | undefined;
  private latency = 0;
  private isPartitioned = false;

  constructor(options: TcpProxyOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
  }

  /** The port clients connect to; known once {@link start} resolved. */
  get port(): number {
    if (this.listenPort === undefined) throw new Error('TcpProxy has not been started');
    return this.listenPort;
  }

  /** Connections with at least one socket still open. */
  get active(): number {
    return this.live.size;
  }

  get partitioned(): boolean {
    return this.isPartitioned;
  }

  /** Listens on 127.0.0.1 (on `listenPort`, or a free port). */
  async start(): Promise<this> {
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.listenPort ?? 0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => this.errors++);
    const address = server.address();
    if (address === null || typeof address !== 'object') throw new Error('TcpProxy could not determine its port');
    this.listenPort = address.port;
    this.server = server;
    return this;
  }

  /**
   * A silent partition, as a cut cable or a dead router gives: no reset, no FIN. Existing
   * connections stop forwarding in both directions (data is dropped, not buffered); new connections
   * are accepted but never connected through. Clients find out only through their own timeouts
   * (MQTT keepalive, MQTT-3.1.2.10 / 4.4).
   */
  partition(): void {
    this.isPartitioned = true;
    for (const connection of this.live) connection.sever();
  }

  /**
   * Ends the partition: new connections are forwarded again. Connections that lived through it
   * are destroyed, because their byte streams lost data and cannot continue; clients reconnect.
   */
  heal(): void {
    this.isPartitioned = false;
    for (const connection of this.live) if (connection.severed) connection.destroy();
  }

  /** One-way delay added to every chunk in both directions, in ms (0 = none). Order is kept. */
  setLatency(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`latency must be a non-negative number of ms, got ${ms}`);
    this.latency = ms;
  }

  /** Stops listening and destroys every connection. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const connection of this.live) connection.destroy();
    if (server === undefined) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.connections++;
    const upstream = this.isPartitioned
      ? undefined
      : tcpConnect({ host: this.options.targetHost, port: this.options.targetPort, allowHalfOpen: true, noDelay: true });
    const connection = new ProxiedConnection(client, upstream, {
      latencyMs: () => this.latency,
      clock: this.clock,
      onError: () => this.errors++,
      onFinished: (finished) => this.live.delete(finished),
    });
    this.live.add(connection);
  }
}
