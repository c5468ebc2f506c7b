import type { ChipModelFault } from '../chips/chip-model.ts';
import type { ControlledHardware } from './controlled-hardware.ts';
import {
  type ButtonRequest,
  type BusFaultRequest,
  type ChipFaultRequest,
  type ConditionsRequest,
  type ControlRequest,
  hexAddress,
  type SimulationState,
} from './control-protocol.ts';

/** A chip model that accepts data faults (both shipped models do). */
interface FaultableModel {
  setFault(fault: ChipModelFault | undefined): void;
}

/**
 * Refused because of the simulated device's state (a pin nobody opened, no chip at an address, a
 * fault the chip cannot have), not because the request was malformed. Transports tell the two
 * apart: the HTTP API answers 409 for this and 400 for a malformed request.
 */
export class ControlRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlRefusedError';
  }
}

/** Simulated devices reachable by name (the simulator service's fleet), for transports that serve many. */
export interface ControlledDevices {
  /** Names of the devices that exist, in creation order. */
  names(): string[];
  /** The control handler of device `name`, or undefined if no service has named it yet. */
  handler(name: string): ControlHandler | undefined;
}

/**
 * Carries out validated control requests (control-protocol.ts) on one simulated device,
 * whatever transport they came by: the unix socket of a device process (control-server.ts) or the
 * simulator service's HTTP API (control-http-server.ts).
 */
export class ControlHandler {
  private readonly hardware: ControlledHardware;
  /** Faults injected through this handler, so `state` can show them (the models keep theirs private). */
  private readonly busFaults = new Map<string, string>();
  private readonly chipFaults = new Map<string, string>();

  constructor(hardware: ControlledHardware) {
    this.hardware = hardware;
  }

  /** Resolves with the request's result (undefined for none), or rejects with a message saying what to change. */
  async handle(request: ControlRequest): Promise<unknown> {
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
      throw new ControlRefusedError(
        `pin ${request.pin} is not an input any service of this device has open (inputs: ${inputs.length === 0 ? 'none' : inputs.join(', ')}); check BUTTON_PIN`,
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
      throw new ControlRefusedError(
        `no simulated chip at bus ${request.bus}, address ${hexAddress(request.address)} (chips there: ${this.describeChips(request.bus)})`,
      );
    }
    const faultable = model as Partial<FaultableModel>;
    if (typeof faultable.setFault !== 'function') {
      throw new ControlRefusedError(`the ${model.constructor.name} at bus ${request.bus}, address ${hexAddress(request.address)} does not support data faults`);
    }
    try {
      // The model refuses faults its chip cannot have (a BME280 has no CRC); its message says why.
      faultable.setFault(request.fault ?? undefined);
    } catch (error) {
      throw new ControlRefusedError(error instanceof Error ? error.message : String(error));
    }
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
    if (!buses.includes(bus)) {
      throw new ControlRefusedError(`no simulated I2C bus ${bus} (buses: ${buses.length === 0 ? 'none' : buses.join(', ')}); check I2C_BUS`);
    }
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
