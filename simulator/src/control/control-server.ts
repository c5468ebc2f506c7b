import { lstat, unlink } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { ChipModelFault } from '../chips/chip-model.ts';
import type { ControlledHardware } from './controlled-hardware.ts';
import {
  type ButtonRequest,
  type BusFaultRequest,
  type ChipFaultRequest,
  type ConditionsRequest,
  type ControlRequest,
  type ControlResponse,
  hexAddress,
  parseRequestLine,
  type SimulationState,
} from './control-protocol.ts';

/** Linux `sun_path` holds 108 bytes including the terminating NUL (unix(7)). */
const MAX_SOCKET_PATH_BYTES = 107;
/** A request line longer than this is not a control request; the connection is dropped. */
const MAX_LINE_BYTES = 64 * 1024;

/** A chip model that accepts data faults (both shipped models do). */
interface FaultableModel {
  setFault(fault: ChipModelFault | undefined): void;
}

/**
 * Serves the simulation control protocol (see control-protocol.ts) for one simulated hardware ({@link ControlledHardware})
 * on a unix socket, so tests and scenarios can reach into a device service running as its own OS
 * process. A malformed request gets an error response; nothing a client sends can crash the device.
 */
export class ControlServer {
  readonly socketPath: string;
  private readonly server: Server;
  private readonly hardware: ControlledHardware;
  private readonly connections = new Set<Socket>();
  /** Faults injected through this channel, so `state` can show them (the models keep theirs private). */
  private readonly busFaults = new Map<string, string>();
  private readonly chipFaults = new Map<string, string>();

  private constructor(socketPath: string, hardware: ControlledHardware) {
    this.socketPath = socketPath;
    this.hardware = hardware;
    this.server = createServer((socket) => this.accept(socket));
  }

  /**
   * Binds `socketPath`, replacing a socket file a crashed process left behind. Rejects if another
   * process still serves on it or the path cannot be bound, with a message naming the path.
   */
  static async listen(socketPath: string, hardware: ControlledHardware): Promise<ControlServer> {
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
      throw new Error(
        `SIM_CONTROL_SOCKET ${socketPath} is ${Buffer.byteLength(socketPath)} bytes; unix socket paths are limited to ${MAX_SOCKET_PATH_BYTES} (unix(7)): use a shorter directory`,
      );
    }
    await removeStaleSocket(socketPath);
    const control = new ControlServer(socketPath, hardware);
    await new Promise<void>((resolve, reject) => {
      const failed = (error: Error) => reject(new Error(`cannot serve simulation control on ${socketPath}: ${error.message}`));
      control.server.once('error', failed);
      control.server.listen(socketPath, () => {
        control.server.off('error', failed);
        resolve();
      });
    });
    // After listening, errors concern single connections; they must not take the device down.
    control.server.on('error', () => {});
    return control;
  }

  /** Stops serving: drops open connections and removes the socket file. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.connections) socket.destroy();
    await closed;
    await unlink(this.socketPath).catch(() => {});
  }

  private accept(socket: Socket): void {
    this.connections.add(socket);
    socket.on('close', () => this.connections.delete(socket));
    socket.on('error', () => {});
    socket.setEncoding('utf8');
    let pending = '';
    socket.on('data', (chunk: string) => {
      pending += chunk;
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        const line = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        if (line !== '') void this.answer(socket, line);
        newline = pending.indexOf('\n');
      }
      if (pending.length > MAX_LINE_BYTES) {
        send(socket, { id: null, ok: false, error: `request line longer than ${MAX_LINE_BYTES} bytes; closing the connection` });
        socket.end();
      }
    });
  }

  private async answer(socket: Socket, line: string): Promise<void> {
    const parsed = parseRequestLine(line);
    if ('error' in parsed) {
      send(socket, { id: parsed.id, ok: false, error: parsed.error });
      return;
    }
    try {
      const result = await this.perform(parsed.request);
      send(socket, result === undefined ? { id: parsed.id, ok: true } : { id: parsed.id, ok: true, result });
    } catch (error) {
      send(socket, { id: parsed.id, ok: false, error: error instanceof Error ? error.message : String(error) });
    }
  }

  private perform(request: ControlRequest): unknown {
    switch (request.op) {
      case 'button':
        return this.button(request);
      case 'bus_fault':
        return this.busFault(request);
      case 'chip_fault':
        return this.chipFault(request);
      case 'conditions':
        return this.conditions(request);
      case 'state':
        return this.state();
    }
  }

  /** Resolves once the contacts have settled, so the caller knows the whole press happened. */
  private async button(request: ButtonRequest): Promise<{ pressed: boolean }> {
    const pins = await this.hardware.openPins();
    const open = pins.get(request.pin);
    if (open?.direction !== 'in') {
      const inputs = [...pins].filter(([, info]) => info.direction === 'in').map(([pin]) => pin);
      throw new Error(
        `pin ${request.pin} is not an input any service in this process watches (inputs: ${inputs.length === 0 ? 'none' : inputs.join(', ')}); check BUTTON_PIN`,
      );
    }
    const button = this.hardware.gpio.button(request.pin);
    switch (request.action) {
      case 'press':
        button.press();
        break;
      case 'release':
        button.release();
        break;
      case 'click':
        await button.click({ ...(request.ms === undefined ? {} : { bounceMs: request.ms }), ...(request.holdMs === undefined ? {} : { holdMs: request.holdMs }) });
        break;
      case 'bounce':
        await button.bounce(request.ms ?? 5, request.settle ?? (button.pressed ? 'released' : 'pressed'));
        break;
    }
    return { pressed: button.pressed };
  }

  private busFault(request: BusFaultRequest): void {
    this.requireBus(request.bus);
    this.hardware.segment(request.bus).setFault(request.address, request.fault ?? undefined);
    const key = `${request.bus}:${hexAddress(request.address)}`;
    if (request.fault === null) this.busFaults.delete(key);
    else this.busFaults.set(key, request.fault);
  }

  private chipFault(request: ChipFaultRequest): void {
    this.requireBus(request.bus);
    const segment = this.hardware.segment(request.bus);
    const model = segment.device(request.address);
    if (model === undefined) {
      throw new Error(`no simulated chip at bus ${request.bus}, address ${hexAddress(request.address)} (chips there: ${this.describeChips(request.bus)})`);
    }
    const faultable = model as Partial<FaultableModel>;
    if (typeof faultable.setFault !== 'function') {
      throw new Error(`the ${model.constructor.name} at bus ${request.bus}, address ${hexAddress(request.address)} does not support data faults`);
    }
    // The model refuses faults its chip cannot have (a BME280 has no CRC); its message says why.
    faultable.setFault(request.fault ?? undefined);
    const key = `${request.bus}:${hexAddress(request.address)}`;
    if (request.fault === null) this.chipFaults.delete(key);
    else this.chipFaults.set(key, request.fault);
  }

  private conditions(request: ConditionsRequest): SimulationState['conditions'] {
    const { op: _op, ...conditions } = request;
    this.hardware.environment.set(conditions);
    return this.hardware.environment.at(Date.now());
  }

  private async state(): Promise<SimulationState> {
    const pins: SimulationState['pins'] = {};
    for (const [pin, info] of await this.hardware.openPins()) {
      pins[String(pin)] = { ...info, pressed: this.hardware.gpio.button(pin).pressed };
    }
    const chips = this.hardware.busNumbers().flatMap((bus) =>
      this.chipsOn(bus).map(({ address, model }) => ({
        bus,
        address: hexAddress(address),
        model,
        fault: this.chipFaults.get(`${bus}:${hexAddress(address)}`) ?? null,
      })),
    );
    return { pins, chips, busFaults: Object.fromEntries(this.busFaults), conditions: this.hardware.environment.at(Date.now()) };
  }

  private requireBus(bus: number): void {
    const buses = this.hardware.busNumbers();
    if (!buses.includes(bus)) throw new Error(`no simulated I2C bus ${bus} (buses: ${buses.length === 0 ? 'none' : buses.join(', ')}); check I2C_BUS`);
  }

  private chipsOn(bus: number): { address: number; model: string }[] {
    const segment = this.hardware.segment(bus);
    const chips: { address: number; model: string }[] = [];
    for (let address = 0x03; address <= 0x77; address++) {
      const model = segment.device(address);
      if (model !== undefined) chips.push({ address, model: model.constructor.name });
    }
    return chips;
  }

  private describeChips(bus: number): string {
    const chips = this.chipsOn(bus);
    return chips.length === 0 ? 'none' : chips.map((c) => `${hexAddress(c.address)} ${c.model}`).join(', ');
  }
}

function send(socket: Socket, response: ControlResponse): void {
  if (socket.writable) socket.write(`${JSON.stringify(response)}\n`);
}

/**
 * A socket file survives a crashed (SIGKILLed) device; binding fails on it, so it is removed when
 * nobody answers on it. A live server or a file that is not a socket is left alone, with an error.
 */
async function removeStaleSocket(socketPath: string): Promise<void> {
  const stats = await lstat(socketPath).catch(() => undefined);
  if (stats === undefined) return;
  if (!stats.isSocket()) throw new Error(`SIM_CONTROL_SOCKET ${socketPath} exists and is not a socket; refusing to replace it`);
  if (await answers(socketPath)) throw new Error(`another process already serves simulation control on ${socketPath}; give each process its own SIM_CONTROL_SOCKET`);
  await unlink(socketPath).catch(() => {});
}

function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}
