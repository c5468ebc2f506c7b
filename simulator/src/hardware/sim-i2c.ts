import { I2cClosedError, I2cNackError, I2cTimeoutError, type I2cBus } from '@iot/hardware';
import { type I2cDeviceModel, ModelNack } from './i2c-device-model.ts';

/** Bus-level faults a scenario can inject at one address. */
export type I2cBusFault =
  /** Every transaction to the address is NACKed, as if the chip were unplugged. */
  | 'nack'
  /** Every transaction to the address hangs until the bus timeout, as with SDA held low. */
  | 'stuck';

/**
 * One simulated I2C bus segment: the wires, with chip models attached at addresses. Any number of
 * {@link I2cBus} handles can be opened on it, as processes open /dev/i2c-N.
 */
export class SimI2cSegment {
  readonly busNumber: number;
  /** How long a transfer on a stuck bus hangs before failing; the Linux bcm2835 adapter uses 1 s. */
  readonly timeoutMs: number;
  private readonly devices = new Map<number, I2cDeviceModel>();
  private readonly faults = new Map<number, I2cBusFault>();

  constructor(busNumber: number, options: { timeoutMs?: number } = {}) {
    this.busNumber = busNumber;
    this.timeoutMs = options.timeoutMs ?? 1000;
  }

  attach(address: number, model: I2cDeviceModel): void {
    if (this.devices.has(address)) throw new Error(`simulated bus ${this.busNumber}: address 0x${address.toString(16)} is taken`);
    this.devices.set(address, model);
  }

  detach(address: number): void {
    this.devices.delete(address);
  }

  device(address: number): I2cDeviceModel | undefined {
    return this.devices.get(address);
  }

  /** Injects a fault at `address`; `undefined` clears it. */
  setFault(address: number, fault: I2cBusFault | undefined): void {
    if (fault === undefined) this.faults.delete(address);
    else this.faults.set(address, fault);
  }

  open(): I2cBus {
    return new SimI2cBus(this);
  }

  /** Runs one transaction against the model at `address`, applying faults. */
  async transfer<T>(address: number, run: (model: I2cDeviceModel) => T): Promise<T> {
    const fault = this.faults.get(address);
    if (fault === 'stuck') {
      await new Promise((resolve) => setTimeout(resolve, this.timeoutMs));
      throw new I2cTimeoutError(this.busNumber, address);
    }
    const model = this.devices.get(address);
    if (model === undefined || fault === 'nack') throw new I2cNackError(this.busNumber, address);
    try {
      return run(model);
    } catch (error) {
      if (error instanceof ModelNack) throw new I2cNackError(this.busNumber, address, error.message);
      throw error;
    }
  }
}

class SimI2cBus implements I2cBus {
  private closed = false;
  private readonly segment: SimI2cSegment;

  constructor(segment: SimI2cSegment) {
    this.segment = segment;
  }

  get busNumber(): number {
    return this.segment.busNumber;
  }

  async readByte(address: number, register: number): Promise<number> {
    const [byte] = await this.readBlock(address, register, 1);
    return byte!;
  }

  async writeByte(address: number, register: number, value: number): Promise<void> {
    await this.transfer(address, (m) => m.write(Uint8Array.of(register, value & 0xff)));
  }

  async readBlock(address: number, register: number, length: number): Promise<Uint8Array> {
    checkLength(length);
    // SMBus "read I2C block data": a write of the register pointer, repeated start, then a read.
    return this.transfer(address, (m) => {
      m.write(Uint8Array.of(register));
      return copyOf(m.read(length), length);
    });
  }

  async writeBlock(address: number, register: number, data: Uint8Array): Promise<void> {
    checkLength(data.length);
    const frame = new Uint8Array(data.length + 1);
    frame[0] = register;
    frame.set(data, 1);
    await this.transfer(address, (m) => m.write(frame));
  }

  async write(address: number, data: Uint8Array): Promise<void> {
    await this.transfer(address, (m) => m.write(Uint8Array.from(data)));
  }

  async read(address: number, length: number): Promise<Uint8Array> {
    checkLength(length);
    return this.transfer(address, (m) => copyOf(m.read(length), length));
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private transfer<T>(address: number, run: (model: I2cDeviceModel) => T): Promise<T> {
    if (this.closed) return Promise.reject(new I2cClosedError(this.segment.busNumber, address));
    return this.segment.transfer(address, run);
  }
}

function checkLength(length: number): void {
  if (!Number.isInteger(length) || length < 1 || length > 32) throw new RangeError(`I2C block length must be 1..32, got ${length}`);
}

function copyOf(bytes: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  out.set(bytes.subarray(0, length));
  return out;
}
