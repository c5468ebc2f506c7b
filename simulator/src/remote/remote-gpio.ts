import type { Logger } from '@iot/common/log';
import { type Edge, type EdgeListener, type GpioController, GpioError, type GpioPin, type GpioPinOptions, type Level } from '@iot/hardware';
import { type RemoteConnection, RemoteRefusedError } from './remote-connection.ts';
import { MAX_DEBOUNCE_MS } from './remote-protocol.ts';
import { gpioErrorFrom } from './wire-errors.ts';

interface Watcher {
  pin: RemoteGpioPin;
  edge: Edge;
  debounceMs: number;
  listener: EdgeListener;
}

/**
 * GPIO whose pins live in the simulator service. Opening and reading go over the connection;
 * watches are registered there and their debounced edges pushed back. Everything this controller
 * has open is re-opened (outputs at their last level) when the connection comes back.
 */
export class RemoteGpioController implements GpioController {
  private readonly connection: RemoteConnection;
  private readonly nextHandle: () => number;
  private readonly logger: Logger;
  private readonly pins = new Set<RemoteGpioPin>();
  /** Watch number → watcher, for the edge events the simulator pushes. */
  private readonly watchers = new Map<number, Watcher>();

  constructor(connection: RemoteConnection, nextHandle: () => number, logger: Logger) {
    this.connection = connection;
    this.nextHandle = nextHandle;
    this.logger = logger;
  }

  async open(options: GpioPinOptions): Promise<GpioPin> {
    const handle = this.nextHandle();
    let result: unknown;
    try {
      result = await this.connection.request({ op: 'gpio_open', handle, ...wireOptions(options) });
    } catch (error) {
      throw gpioFailure(error, options.pin, this.connection.simulator);
    }
    const warnings = (result as { warnings?: unknown } | undefined)?.warnings;
    const pin = new RemoteGpioPin(this, handle, options, Array.isArray(warnings) ? warnings.map(String) : []);
    this.pins.add(pin);
    return pin;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pins].map((pin) => pin.close()));
  }

  /** Re-opens every pin and watch on a new connection; the requests go out before this returns. */
  restore(): Promise<boolean>[] {
    const restored: Promise<boolean>[] = [];
    for (const pin of this.pins) {
      restored.push(pin.reopen());
      for (const [watch, watcher] of this.watchers) if (watcher.pin === pin) restored.push(pin.rewatch(watch, watcher));
    }
    return restored;
  }

  /** Hands a pushed edge event to its watcher. */
  dispatch(watch: number, level: Level, atMs: number): void {
    const watcher = this.watchers.get(watch);
    if (watcher === undefined) return;
    try {
      watcher.listener(level, atMs);
    } catch (error) {
      // A failing listener must not take the connection, and every other pin, down with it.
      this.logger.error({ event: 'gpio_listener_failed', pin: watcher.pin.pin, err: error }, 'a GPIO watch listener threw');
    }
  }

  /** @internal */
  get link(): RemoteConnection {
    return this.connection;
  }

  /** @internal */
  get log(): Logger {
    return this.logger;
  }

  /** @internal */
  addWatcher(watcher: Watcher): number {
    const watch = this.nextHandle();
    this.watchers.set(watch, watcher);
    return watch;
  }

  /** @internal */
  removeWatcher(watch: number): boolean {
    return this.watchers.delete(watch);
  }

  /** @internal */
  watchesOf(pin: RemoteGpioPin): number[] {
    return [...this.watchers].filter(([, watcher]) => watcher.pin === pin).map(([watch]) => watch);
  }

  /** @internal */
  forget(pin: RemoteGpioPin): void {
    this.pins.delete(pin);
  }
}

class RemoteGpioPin implements GpioPin {
  readonly pin: number;
  readonly warnings: readonly string[];
  private readonly controller: RemoteGpioController;
  private readonly handle: number;
  private readonly options: GpioPinOptions;
  /** What an output drives now, so a re-open after a reconnect drives the same. */
  private level: Level;
  private closed = false;
  /** Why the last re-open after a reconnect failed; operations say so until one succeeds. */
  private lostReason: string | undefined;

  constructor(controller: RemoteGpioController, handle: number, options: GpioPinOptions, warnings: readonly string[]) {
    this.controller = controller;
    this.handle = handle;
    this.options = options;
    this.pin = options.pin;
    this.warnings = warnings;
    this.level = options.direction === 'out' ? options.initial : 0;
  }

  async read(): Promise<Level> {
    this.assertUsable();
    const result = await this.call({ op: 'gpio_read', handle: this.handle });
    if (result !== 0 && result !== 1) throw new GpioError(this.pin, `the simulator at ${this.controller.link.simulator} answered a read with ${JSON.stringify(result)}`);
    return result;
  }

  async write(level: Level): Promise<void> {
    this.assertUsable();
    if (this.options.direction !== 'out') throw new GpioError(this.pin, 'cannot write: pin is an input');
    await this.call({ op: 'gpio_write', handle: this.handle, level });
    this.level = level;
  }

  watch(edge: Edge, debounceMs: number, listener: EdgeListener): () => void {
    this.assertUsable();
    if (this.options.direction !== 'in') throw new GpioError(this.pin, 'cannot watch: pin is an output');
    if (!Number.isFinite(debounceMs) || debounceMs > MAX_DEBOUNCE_MS) throw new GpioError(this.pin, `debounceMs must be a number of milliseconds up to ${MAX_DEBOUNCE_MS}, got ${debounceMs}`);
    const watcher = { pin: this, edge, debounceMs, listener };
    const watch = this.controller.addWatcher(watcher);
    // Registered at once and in order on the connection, so an edge caused by a later write is seen.
    if (this.controller.link.connected) void this.rewatch(watch, watcher);
    return () => {
      if (!this.controller.removeWatcher(watch)) return;
      if (this.controller.link.connected) this.controller.link.request({ op: 'gpio_unwatch', watch }).catch(() => {});
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const watch of this.controller.watchesOf(this)) this.controller.removeWatcher(watch);
    this.controller.forget(this);
    // The simulator releases the pin itself if the connection is gone.
    if (this.controller.link.connected) await this.controller.link.request({ op: 'gpio_close', handle: this.handle }).catch(() => {});
  }

  /** @internal Sends the open again on a new connection; resolves with whether it worked. */
  reopen(): Promise<boolean> {
    const options: GpioPinOptions = this.options.direction === 'out' ? { ...this.options, initial: this.level } : this.options;
    return this.controller.link.request({ op: 'gpio_open', handle: this.handle, ...wireOptions(options) }).then(
      () => {
        this.lostReason = undefined;
        return true;
      },
      (error: unknown) => {
        this.lostReason = gpioFailure(error, this.pin, this.controller.link.simulator).message;
        this.controller.log.warn({ event: 'remote_restore_failed', pin: this.pin, reason: this.lostReason }, `could not re-open GPIO ${this.pin} on the simulator`);
        return false;
      },
    );
  }

  /** @internal Registers a watch on the simulator; resolves with whether it worked. */
  rewatch(watch: number, watcher: Watcher): Promise<boolean> {
    return this.controller.link.request({ op: 'gpio_watch', handle: this.handle, watch, edge: watcher.edge, debounceMs: watcher.debounceMs }).then(
      () => true,
      (error: unknown) => {
        const reason = gpioFailure(error, this.pin, this.controller.link.simulator).message;
        this.controller.log.warn({ event: 'remote_watch_failed', pin: this.pin, reason }, `the simulator did not take a watch of GPIO ${this.pin}`);
        return false;
      },
    );
  }

  private async call(body: Record<string, unknown>): Promise<unknown> {
    try {
      return await this.controller.link.request(body);
    } catch (error) {
      throw gpioFailure(error, this.pin, this.controller.link.simulator);
    }
  }

  private assertUsable(): void {
    if (this.closed) throw new GpioError(this.pin, 'pin is closed');
    if (this.lostReason !== undefined && this.controller.link.connected) {
      throw new GpioError(this.pin, `not open on the simulator since it reconnected: ${this.lostReason.replace(/^GPIO \d+: /, '')}`);
    }
  }
}

function wireOptions(options: GpioPinOptions): Record<string, unknown> {
  return options.direction === 'in'
    ? { pin: options.pin, direction: 'in', pull: options.pull }
    : { pin: options.pin, direction: 'out', initial: options.initial };
}

/** Every failure of a GPIO operation is a GpioError naming the pin, as the contract promises. */
function gpioFailure(error: unknown, pin: number, simulator: string): GpioError {
  if (error instanceof GpioError) return error;
  if (error instanceof RemoteRefusedError) return gpioErrorFrom(error.wire, pin, simulator);
  return new GpioError(pin, error instanceof Error ? error.message : String(error), { cause: error });
}
