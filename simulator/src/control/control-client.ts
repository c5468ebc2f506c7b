import { connect, type Socket } from 'node:net';
import type { ControlResponse, SimulationState } from './control-protocol.ts';

export interface SimulationControlOptions {
  /** How long one request (connecting included) may take before it fails; default 10 s. */
  timeoutMs?: number;
}

interface Pending {
  resolve(result: unknown): void;
  reject(error: Error): void;
}

/** Errors while connecting that mean "not serving yet (or any more)", worth retrying until the deadline. */
const NOT_SERVING = new Set(['ENOENT', 'ECONNREFUSED', 'EAGAIN']);
const RETRY_MS = 50;

/**
 * Reaches into the simulated hardware of a device service running as another OS process, over the
 * unix socket it serves (SIM_CONTROL_SOCKET). Every method resolves once the device has done what
 * was asked, or rejects with the device's explanation. If the device process restarts, the next
 * call connects again; a call in flight when the connection drops fails rather than being repeated,
 * since pressing a button twice is not the same as pressing it once.
 */
export class SimulationControl {
  readonly socketPath: string;
  private readonly timeoutMs: number;
  private socket: Socket | undefined;
  private connecting: Promise<Socket> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  private constructor(socketPath: string, options: SimulationControlOptions) {
    this.socketPath = socketPath;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /**
   * Connects to the control socket, waiting up to `timeoutMs` for the device process to start
   * serving it (so a test may call this right after starting the process).
   */
  static async connect(socketPath: string, options: SimulationControlOptions = {}): Promise<SimulationControl> {
    const control = new SimulationControl(socketPath, options);
    await control.ensureConnected(Date.now() + control.timeoutMs);
    return control;
  }

  /**
   * Acts on the push button at BCM `pin`: `press`/`release` change the contact at once; `click`
   * bounces in, holds `holdMs` (default 80), bounces out (`ms` of chatter each, default 5);
   * `bounce` chatters for `ms` and settles as `settle` (default: the opposite of now).
   * Resolves with whether the button is pressed afterwards.
   */
  button(
    pin: number,
    action: 'press' | 'release' | 'click' | 'bounce',
    options: { ms?: number; settle?: 'pressed' | 'released'; holdMs?: number } = {},
  ): Promise<{ pressed: boolean }> {
    return this.request({ op: 'button', pin, action, ...options }) as Promise<{ pressed: boolean }>;
  }

  /** Makes every transaction to `address` on `bus` NACK or hang (`stuck`); `null` clears it. */
  async busFault(bus: number, address: number, fault: 'nack' | 'stuck' | null): Promise<void> {
    await this.request({ op: 'bus_fault', bus, address, fault });
  }

  /** Corrupts the chip's data (`crc`: wrong checksums, `implausible`: impossible values); `null` clears it. */
  async chipFault(bus: number, address: number, fault: 'crc' | 'implausible' | null): Promise<void> {
    await this.request({ op: 'chip_fault', bus, address, fault });
  }

  /** Overrides what the simulated chips sense; omitted quantities keep their value. Resolves with the conditions now. */
  conditions(conditions: Partial<SimulationState['conditions']>): Promise<SimulationState['conditions']> {
    return this.request({ op: 'conditions', ...conditions }) as Promise<SimulationState['conditions']>;
  }

  /** Open pins, chips, injected faults and current conditions, for debugging a scenario. */
  state(): Promise<SimulationState> {
    return this.request({ op: 'state' }) as Promise<SimulationState>;
  }

  /** Sends any request as is; the typed methods above are built on it. */
  async request(body: Record<string, unknown>): Promise<unknown> {
    if (this.closed) throw new Error(`simulation control for ${this.socketPath} is closed`);
    const deadline = Date.now() + this.timeoutMs;
    const socket = await this.ensureConnected(deadline);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`simulation control request ${JSON.stringify(body)} got no answer from ${this.socketPath} within ${this.timeoutMs} ms`));
      }, Math.max(0, deadline - Date.now()));
      this.pending.set(id, {
        resolve: (result) => {
          clearTimeout(timer);
          resolve(result);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      if (!socket.writable) {
        this.pending.get(id)?.reject(new Error(`the simulation control connection (${this.socketPath}) closed while sending; try again`));
        this.pending.delete(id);
        return;
      }
      socket.write(`${JSON.stringify({ ...body, id })}\n`);
    });
  }

  /** Disconnects; requests still waiting fail. */
  async close(): Promise<void> {
    this.closed = true;
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
    this.failPending(new Error(`simulation control for ${this.socketPath} was closed before the device answered`));
  }

  private async ensureConnected(deadline: number): Promise<Socket> {
    if (this.socket !== undefined && !this.socket.destroyed) return this.socket;
    this.connecting ??= this.connectUntil(deadline).finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connectUntil(deadline: number): Promise<Socket> {
    for (;;) {
      try {
        const socket = await openSocket(this.socketPath);
        this.adopt(socket);
        return socket;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? '';
        if (!NOT_SERVING.has(code) || Date.now() + RETRY_MS > deadline) {
          throw new Error(
            `cannot reach simulation control at ${this.socketPath} (${code || (error as Error).message}); is the device process running with HARDWARE=sim and SIM_CONTROL_SOCKET=${this.socketPath}?`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  }

  private adopt(socket: Socket): void {
    this.socket = socket;
    socket.setEncoding('utf8');
    let pending = '';
    socket.on('data', (chunk: string) => {
      pending += chunk;
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        this.settle(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
      // The device stopped or restarted: what it was doing for us may or may not have happened.
      this.failPending(new Error(`the device closed the simulation control connection (${this.socketPath}) before answering; it may have stopped or restarted`));
    });
  }

  private settle(line: string): void {
    let response: ControlResponse;
    try {
      response = JSON.parse(line) as ControlResponse;
    } catch {
      return;
    }
    if (response.id === null) return;
    const waiter = this.pending.get(response.id);
    if (waiter === undefined) return;
    this.pending.delete(response.id);
    if (response.ok) waiter.resolve(response.result);
    else waiter.reject(new Error(response.error));
  }

  private failPending(error: Error): void {
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const waiter of waiting) waiter.reject(error);
  }
}

function openSocket(socketPath: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}
