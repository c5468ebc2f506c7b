import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { Logger } from '@iot/common/log';
import type { Level } from '@iot/hardware';
import { readJsonLines } from '../control/json-lines.ts';
import { helloResult, MAX_LINE_LENGTH, REMOTE_PROTOCOL_VERSION, type ResponseMessage, serverMessage, type WireError } from './remote-protocol.ts';

export interface RemoteConnectionOptions {
  host: string;
  port: number;
  device: string;
  /** What this client is, for the simulator's logs. */
  client?: string;
  logger: Logger;
  /** A request without an answer by then fails (a stuck simulated bus answers within 1 s). */
  requestTimeoutMs: number;
  /** How long {@link RemoteConnection.start} keeps trying to reach the simulator. */
  connectTimeoutMs: number;
  /** Back-off between reconnect attempts: starts at min, doubles up to max. */
  reconnectMinMs: number;
  reconnectMaxMs: number;
}

/** The simulator could not be asked: not connected, the connection dropped, or no answer in time. */
export class RemoteUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RemoteUnavailableError';
  }
}

/** The simulator answered with an error; `wire` says which contract error it is. */
export class RemoteRefusedError extends Error {
  readonly wire: WireError;
  constructor(wire: WireError) {
    super(wire.message);
    this.name = 'RemoteRefusedError';
    this.wire = wire;
  }
}

interface Pending {
  resolve(result: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

type State = 'idle' | 'handshaking' | 'restoring' | 'connected' | 'closed';

/**
 * The client's one TCP connection to the simulator service, kept up for as long as the hardware
 * is open: it says hello, matches answers to requests by id, hands edge events to their watch,
 * and after a drop reconnects with back-off and lets the hardware re-open what it had
 * (`onRestore`), so a restarted simulator heals without restarting the device service.
 */
export class RemoteConnection {
  /** `host:port`, as error messages name the simulator. */
  readonly simulator: string;
  /** Called when a new connection has said hello, before any other request goes out on it. */
  onRestore: () => Promise<{ restored: number; failed: number }> = async () => ({ restored: 0, failed: 0 });
  /** Called for each edge event the simulator pushes. */
  onEdge: (watch: number, level: Level, atMs: number) => void = () => {};
  private readonly options: RemoteConnectionOptions;
  private readonly logger: Logger;
  private readonly session = randomUUID();
  private readonly pending = new Map<number, Pending>();
  private state: State = 'idle';
  private socket: Socket | undefined;
  private nextId = 1;
  private backoffMs: number;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  /** Why the simulator is unreachable right now, for error messages. */
  private lastProblem = 'not connected yet';
  private disconnectedAt: number | undefined;
  /** An error the simulator sent without a request id (a limit, a timeout) just before closing. */
  private serverNotice: string | undefined;
  private readonly connectedWaiters = new Set<() => void>();

  constructor(options: RemoteConnectionOptions) {
    this.options = options;
    this.logger = options.logger;
    this.simulator = `${options.host}:${options.port}`;
    this.backoffMs = options.reconnectMinMs;
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  /**
   * Connects and says hello, retrying with back-off until `connectTimeoutMs`, so a device
   * container may start before the simulator's. Rejects at once if the simulator refuses the
   * hello (device limit, bad name, protocol version): retrying would not help.
   */
  async start(): Promise<void> {
    const deadline = Date.now() + this.options.connectTimeoutMs;
    let waitingLogged = false;
    for (;;) {
      const outcome = await this.attempt();
      if (outcome.ok) return;
      if (outcome.permanent) throw new Error(`the simulator at ${this.simulator} refused device "${this.options.device}": ${outcome.problem}`);
      if (this.isClosed()) throw new Error(`remote hardware for ${this.simulator} was closed while connecting`);
      if (Date.now() + this.backoffMs > deadline) {
        throw new Error(`cannot reach the simulator at ${this.simulator} within ${this.options.connectTimeoutMs} ms (${outcome.problem}); is it running, and are SIM_REMOTE_HOST and SIM_REMOTE_PORT right?`);
      }
      if (!waitingLogged) {
        waitingLogged = true;
        this.logger.info({ event: 'remote_hardware_waiting', simulator: this.simulator, problem: outcome.problem }, `waiting for the simulator at ${this.simulator}`);
      }
      await sleep(this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, this.options.reconnectMaxMs);
    }
  }

  /** Resolves once connected (at once if so), or rejects after `timeoutMs`. */
  waitForConnection(timeoutMs: number): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.connectedWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.connectedWaiters.delete(done);
        reject(new RemoteUnavailableError(`not connected to the simulator at ${this.simulator} within ${timeoutMs} ms (${this.lastProblem})`));
      }, timeoutMs);
      this.connectedWaiters.add(done);
    });
  }

  /**
   * Sends a request and resolves with its result. Rejects with {@link RemoteUnavailableError}
   * when not connected, on a drop before the answer and on a timeout, and with
   * {@link RemoteRefusedError} when the simulator answers with an error. A request is never sent
   * twice: whether an unanswered one took effect is unknown.
   */
  request(body: Record<string, unknown>): Promise<unknown> {
    if (this.state !== 'connected' && this.state !== 'restoring') {
      return Promise.reject(new RemoteUnavailableError(this.unreachable()));
    }
    return this.send(this.socket!, body);
  }

  /** Stops reconnecting and closes the connection; requests still waiting fail. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.reconnectTimer);
    const socket = this.socket;
    this.socket = undefined;
    this.failPending(new RemoteUnavailableError(`remote hardware for the simulator at ${this.simulator} is closed`));
    if (socket !== undefined && !socket.destroyed) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.end();
        setTimeout(() => socket.destroy(), 1_000).unref();
      });
    }
  }

  /** A method, so TypeScript does not narrow the state across awaits. */
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private unreachable(): string {
    if (this.state === 'closed') return `remote hardware for the simulator at ${this.simulator} is closed`;
    return `the simulator at ${this.simulator} is unreachable (${this.lastProblem}); reconnecting`;
  }

  /** One connect-and-hello. On success the connection is up and restored. */
  private async attempt(): Promise<{ ok: true } | { ok: false; problem: string; permanent: boolean }> {
    if (this.state === 'closed') return { ok: false, problem: 'closed', permanent: false };
    let socket: Socket;
    try {
      socket = await openSocket(this.options.host, this.options.port, this.options.requestTimeoutMs);
    } catch (error) {
      this.lastProblem = describeConnectError(error);
      return { ok: false, problem: this.lastProblem, permanent: false };
    }
    if (this.isClosed()) {
      socket.destroy();
      return { ok: false, problem: 'closed', permanent: false };
    }
    this.serverNotice = undefined;
    this.adopt(socket);
    this.state = 'handshaking';
    let result: unknown;
    try {
      result = await this.send(socket, {
        op: 'hello',
        protocol: REMOTE_PROTOCOL_VERSION,
        device: this.options.device,
        session: this.session,
        ...(this.options.client === undefined ? {} : { client: this.options.client }),
      });
    } catch (error) {
      socket.destroy();
      this.lastProblem = this.serverNotice ?? (error as Error).message;
      return { ok: false, problem: this.lastProblem, permanent: error instanceof RemoteRefusedError || error instanceof NotThisProtocolError };
    }
    const hello = helloResult.safeParse(result);
    if (!hello.success) {
      socket.destroy();
      this.lastProblem = 'the simulator answered the hello with something else than a hello';
      return { ok: false, problem: this.lastProblem, permanent: true };
    }
    if (this.socket !== socket || this.state !== 'handshaking') return { ok: false, problem: this.lastProblem, permanent: false };
    this.state = 'restoring';
    const restoring = this.onRestore();
    this.state = 'connected';
    this.backoffMs = this.options.reconnectMinMs;
    const outageMs = this.disconnectedAt === undefined ? undefined : Date.now() - this.disconnectedAt;
    this.disconnectedAt = undefined;
    for (const waiter of [...this.connectedWaiters]) waiter();
    void restoring.then(({ restored, failed }) => {
      if (outageMs === undefined) {
        this.logger.info({ event: 'remote_hardware_connected', simulator: this.simulator, device: this.options.device, created: hello.data.created }, `connected to the simulator at ${this.simulator} as "${this.options.device}"`);
      } else {
        this.logger.info(
          { event: 'remote_hardware_reconnected', simulator: this.simulator, device: this.options.device, outage_ms: outageMs, restored, restore_failed: failed },
          `reconnected to the simulator at ${this.simulator}; re-opened ${restored} pins, buses and watches`,
        );
      }
    });
    return { ok: true };
  }

  private adopt(socket: Socket): void {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 5_000);
    socket.on('error', (error) => {
      this.lastProblem = describeConnectError(error);
    });
    readJsonLines(socket, {
      maxLineLength: MAX_LINE_LENGTH,
      onLine: (line) => this.receive(socket, line),
      onOverflow: () => this.broken(socket, `a message from the simulator at ${this.simulator} was longer than ${MAX_LINE_LENGTH} characters`),
    });
    socket.on('close', () => this.lost(socket));
  }

  private receive(socket: Socket, line: string): void {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      this.broken(socket, `the server at ${this.simulator} does not speak the remote hardware protocol (it sent ${JSON.stringify(line.slice(0, 60))}); is SIM_REMOTE_PORT the simulator's SIM_HARDWARE_PORT?`);
      return;
    }
    const parsed = serverMessage.safeParse(value);
    if (!parsed.success) {
      this.broken(socket, `the simulator at ${this.simulator} sent a message this client does not understand: ${line.slice(0, 120)}`);
      return;
    }
    const message = parsed.data;
    if ('event' in message) {
      this.onEdge(message.watch, message.level, message.atMs);
      return;
    }
    this.settle(message);
  }

  private settle(message: ResponseMessage): void {
    if (message.id === null) {
      // An error not tied to a request (limits, the hello timeout): the server closes the connection next.
      if (!message.ok) this.serverNotice = message.error.message;
      return;
    }
    const waiter = this.pending.get(message.id);
    if (waiter === undefined) return;
    this.pending.delete(message.id);
    clearTimeout(waiter.timer);
    if (message.ok) waiter.resolve(message.result);
    else waiter.reject(new RemoteRefusedError(message.error));
  }

  /** Drops a connection whose peer breaks the protocol; the waiting requests learn why. */
  private broken(socket: Socket, problem: string): void {
    this.lastProblem = problem;
    this.failPending(new NotThisProtocolError(problem));
    socket.destroy();
  }

  private lost(socket: Socket): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    const wasUp = this.state === 'connected' || this.state === 'restoring';
    if (this.state === 'closed') return;
    this.state = 'idle';
    if (this.lastProblem === 'not connected yet' || wasUp) this.lastProblem = 'the connection was lost';
    this.failPending(new RemoteUnavailableError(`the connection to the simulator at ${this.simulator} was lost before it answered`));
    if (!wasUp) return;
    this.disconnectedAt = Date.now();
    this.logger.warn({ event: 'remote_hardware_disconnected', simulator: this.simulator, device: this.options.device }, `lost the simulator at ${this.simulator}; reconnecting`);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.state === 'closed') return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.reconnectMaxMs);
    this.reconnectTimer = setTimeout(() => {
      void this.attempt().then((outcome) => {
        if (outcome.ok || this.state === 'closed') return;
        const fields = { event: outcome.permanent ? 'remote_hardware_refused' : 'remote_hardware_retry', simulator: this.simulator, problem: outcome.problem };
        if (outcome.permanent) this.logger.error(fields, `the simulator at ${this.simulator} refused this device; retrying`);
        else this.logger.debug(fields, 'simulator still unreachable');
        this.scheduleReconnect();
      });
    }, delay);
  }

  private send(socket: Socket, body: Record<string, unknown>): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RemoteUnavailableError(`no answer from the simulator at ${this.simulator} within ${this.options.requestTimeoutMs} ms`));
      }, this.options.requestTimeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      if (!socket.writable) {
        this.pending.delete(id);
        clearTimeout(timer);
        reject(new RemoteUnavailableError(this.unreachable()));
        return;
      }
      socket.write(`${JSON.stringify({ id, ...body })}\n`);
    });
  }

  private failPending(error: Error): void {
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const waiter of waiting) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }
}

/** The peer is not a simulator speaking this protocol: retrying the same address will not help. */
class NotThisProtocolError extends RemoteUnavailableError {}

function openSocket(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`no TCP connection within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', failed);
      resolve(socket);
    });
    const failed = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    socket.once('error', failed);
  });
}

function describeConnectError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code === undefined ? (error as Error).message : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? `${code}: no such host` : code;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
