import type { GpioPin, I2cBus, Level } from '@iot/hardware';
import { type FleetDevice, FleetRefusedError, type SimulatedFleet } from './simulated-fleet.ts';
import { type HelloRequest, REMOTE_PROTOCOL_VERSION, type RemoteRequest, fromHex, toHex } from './remote-protocol.ts';
import { RemoteProtocolError } from './wire-errors.ts';

export interface SessionLimits {
  /** Pins, buses and watches one connection may hold at once. */
  maxHandles: number;
}

/** What a session needs from its connection. */
export interface SessionLink {
  /** Sends an edge event to the client. */
  pushEdge(watch: number, level: Level, atMs: number): void;
}

type Entry = { kind: 'pin'; pin: GpioPin; watches: Set<number> } | { kind: 'bus'; bus: I2cBus };

/** A hello the session could not accept; the connection is closed after the answer. */
export class HelloRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HelloRefusedError';
  }
}

/**
 * The server side of one client connection: the device it said hello to, and the pins, buses and
 * watches it opened under its own handle numbers. Everything it opened is released when the
 * connection goes, so a restarted service can open its pin again.
 */
export class RemoteSession {
  device: FleetDevice | undefined;
  session: string | undefined;
  client: string | undefined;
  private readonly fleet: SimulatedFleet;
  private readonly limits: SessionLimits;
  private readonly link: SessionLink;
  private readonly entries = new Map<number, Entry>();
  /** Watch number → the handle it watches and the function that stops it. */
  private readonly watches = new Map<number, { handle: number; stop: () => void }>();
  private released = false;

  constructor(fleet: SimulatedFleet, limits: SessionLimits, link: SessionLink) {
    this.fleet = fleet;
    this.limits = limits;
    this.link = link;
  }

  /** Accepts the hello or throws HelloRefusedError saying why not. */
  async hello(request: HelloRequest): Promise<{ protocol: number; device: string; created: boolean }> {
    if (this.device !== undefined) throw new RemoteProtocolError(`this connection already said hello as device "${this.device.name}"`);
    if (request.protocol !== REMOTE_PROTOCOL_VERSION) {
      throw new HelloRefusedError(`protocol version ${request.protocol} is not supported; this simulator speaks version ${REMOTE_PROTOCOL_VERSION}: run the same release on both sides`);
    }
    try {
      const { device, created } = await this.fleet.obtain(request.device);
      this.device = device;
      this.session = request.session;
      this.client = request.client;
      return { protocol: REMOTE_PROTOCOL_VERSION, device: device.name, created };
    } catch (error) {
      if (error instanceof FleetRefusedError) throw new HelloRefusedError(error.message);
      throw error;
    }
  }

  /** Carries out one request after hello; resolves with its result (undefined for none). */
  async perform(request: Exclude<RemoteRequest, HelloRequest>): Promise<unknown> {
    const device = this.device;
    if (device === undefined) throw new RemoteProtocolError('say hello first');
    if (this.released) throw new RemoteProtocolError('the connection is closing');
    switch (request.op) {
      case 'gpio_open': {
        this.reserve(request.handle);
        const pin = await device.hardware.gpio.open(
          request.direction === 'in' ? { pin: request.pin, direction: 'in', pull: request.pull } : { pin: request.pin, direction: 'out', initial: request.initial },
        );
        this.entries.set(request.handle, { kind: 'pin', pin, watches: new Set() });
        return { warnings: pin.warnings };
      }
      case 'gpio_read':
        return this.pin(request.handle).pin.read();
      case 'gpio_write':
        return this.pin(request.handle).pin.write(request.level);
      case 'gpio_watch': {
        const entry = this.pin(request.handle);
        if (this.watches.has(request.watch)) throw new RemoteProtocolError(`watch ${request.watch} is already in use on this connection`);
        this.checkLimit();
        const watch = request.watch;
        const stop = entry.pin.watch(request.edge, request.debounceMs, (level, atMs) => this.link.pushEdge(watch, level, atMs));
        this.watches.set(watch, { handle: request.handle, stop });
        entry.watches.add(watch);
        return undefined;
      }
      case 'gpio_unwatch':
        // Unwatching twice is harmless in the contract; so is an unknown watch here.
        this.unwatch(request.watch);
        return undefined;
      case 'gpio_close': {
        const entry = this.entries.get(request.handle);
        if (entry === undefined) return undefined;
        if (entry.kind !== 'pin') throw new RemoteProtocolError(`handle ${request.handle} is an I2C bus, not a pin`);
        await this.closeEntry(request.handle, entry);
        return undefined;
      }
      case 'i2c_open':
        this.reserve(request.handle);
        this.entries.set(request.handle, { kind: 'bus', bus: device.hardware.segment(request.bus).open() });
        return undefined;
      case 'i2c_read_byte':
        return this.bus(request.handle).readByte(request.address, request.register);
      case 'i2c_write_byte':
        return this.bus(request.handle).writeByte(request.address, request.register, request.value);
      case 'i2c_read_block':
        return toHex(await this.bus(request.handle).readBlock(request.address, request.register, request.length));
      case 'i2c_write_block':
        return this.bus(request.handle).writeBlock(request.address, request.register, fromHex(request.data));
      case 'i2c_write':
        return this.bus(request.handle).write(request.address, fromHex(request.data));
      case 'i2c_read':
        return toHex(await this.bus(request.handle).read(request.address, request.length));
      case 'i2c_close': {
        const entry = this.entries.get(request.handle);
        if (entry === undefined) return undefined;
        if (entry.kind !== 'bus') throw new RemoteProtocolError(`handle ${request.handle} is a pin, not an I2C bus`);
        await this.closeEntry(request.handle, entry);
        return undefined;
      }
    }
  }

  /** Releases everything this connection opened. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await Promise.allSettled([...this.entries].map(([handle, entry]) => this.closeEntry(handle, entry)));
  }

  /** Pins, buses and watches held. */
  get handles(): number {
    return this.entries.size + this.watches.size;
  }

  private reserve(handle: number): void {
    if (this.entries.has(handle)) throw new RemoteProtocolError(`handle ${handle} is already in use on this connection`);
    this.checkLimit();
  }

  private checkLimit(): void {
    if (this.handles >= this.limits.maxHandles) {
      throw new RemoteProtocolError(`this connection holds ${this.handles} pins, buses and watches, the most one connection may hold; close some first`);
    }
  }

  private pin(handle: number): Extract<Entry, { kind: 'pin' }> {
    const entry = this.entries.get(handle);
    if (entry === undefined) throw new RemoteProtocolError(`no open pin with handle ${handle} on this connection`);
    if (entry.kind !== 'pin') throw new RemoteProtocolError(`handle ${handle} is an I2C bus, not a pin`);
    return entry;
  }

  private bus(handle: number): I2cBus {
    const entry = this.entries.get(handle);
    if (entry === undefined) throw new RemoteProtocolError(`no open I2C bus with handle ${handle} on this connection`);
    if (entry.kind !== 'bus') throw new RemoteProtocolError(`handle ${handle} is a pin, not an I2C bus`);
    return entry.bus;
  }

  private unwatch(watch: number): void {
    const found = this.watches.get(watch);
    if (found === undefined) return;
    this.watches.delete(watch);
    found.stop();
    const entry = this.entries.get(found.handle);
    if (entry?.kind === 'pin') entry.watches.delete(watch);
  }

  private async closeEntry(handle: number, entry: Entry): Promise<void> {
    this.entries.delete(handle);
    if (entry.kind === 'pin') {
      for (const watch of [...entry.watches]) this.unwatch(watch);
      await entry.pin.close();
    } else {
      await entry.bus.close();
    }
  }
}
