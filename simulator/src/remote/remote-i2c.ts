import type { Logger } from '@iot/common/log';
import { I2cClosedError, I2cError, type I2cBus, I2cTimeoutError } from '@iot/hardware';
import { type RemoteConnection, RemoteRefusedError } from './remote-connection.ts';
import { fromHex, MAX_WRITE_BYTES, toHex } from './remote-protocol.ts';
import { i2cErrorFrom } from './wire-errors.ts';

/**
 * One handle on a simulated I2C bus of the simulator service. Transfers go over the connection;
 * while the simulator is unreachable they fail at once with I2cTimeoutError, which the sensor
 * already treats as a chip that did not answer this sample (docs/hardware-contracts.md §4).
 */
export class RemoteI2cBus implements I2cBus {
  readonly busNumber: number;
  private readonly connection: RemoteConnection;
  private readonly handle: number;
  private readonly logger: Logger;
  private readonly onClose: (bus: RemoteI2cBus) => void;
  private closed = false;

  constructor(options: { connection: RemoteConnection; handle: number; busNumber: number; logger: Logger; onClose: (bus: RemoteI2cBus) => void }) {
    this.connection = options.connection;
    this.handle = options.handle;
    this.busNumber = options.busNumber;
    this.logger = options.logger;
    this.onClose = options.onClose;
  }

  async readByte(address: number, register: number): Promise<number> {
    const result = await this.call(address, { op: 'i2c_read_byte', address, register: register & 0xff });
    if (typeof result !== 'number' || !Number.isInteger(result) || result < 0 || result > 255) throw this.unexpected(address, result);
    return result;
  }

  async writeByte(address: number, register: number, value: number): Promise<void> {
    await this.call(address, { op: 'i2c_write_byte', address, register: register & 0xff, value: value & 0xff });
  }

  async readBlock(address: number, register: number, length: number): Promise<Uint8Array> {
    this.assertOpen(address);
    checkLength(length);
    return this.bytes(address, length, await this.call(address, { op: 'i2c_read_block', address, register: register & 0xff, length }));
  }

  async writeBlock(address: number, register: number, data: Uint8Array): Promise<void> {
    this.assertOpen(address);
    checkLength(data.length);
    await this.call(address, { op: 'i2c_write_block', address, register: register & 0xff, data: toHex(data) });
  }

  async write(address: number, data: Uint8Array): Promise<void> {
    this.assertOpen(address);
    if (data.length > MAX_WRITE_BYTES) throw new RangeError(`a plain I2C write to the simulator carries at most ${MAX_WRITE_BYTES} bytes, got ${data.length}`);
    await this.call(address, { op: 'i2c_write', address, data: toHex(data) });
  }

  async read(address: number, length: number): Promise<Uint8Array> {
    this.assertOpen(address);
    checkLength(length);
    return this.bytes(address, length, await this.call(address, { op: 'i2c_read', address, length }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClose(this);
    if (this.connection.connected) await this.connection.request({ op: 'i2c_close', handle: this.handle }).catch(() => {});
  }

  /** @internal Opens this handle on the simulator; rejects as the connection does. */
  openOnSimulator(): Promise<unknown> {
    return this.connection.request({ op: 'i2c_open', handle: this.handle, bus: this.busNumber });
  }

  /** @internal Opens this handle on a new connection; resolves with whether it worked. */
  reopen(): Promise<boolean> {
    return this.openOnSimulator().then(
      () => true,
      (error: unknown) => {
        const reason = error instanceof Error ? error.message : String(error);
        this.logger.warn({ event: 'remote_restore_failed', bus: this.busNumber, reason }, `could not re-open I2C bus ${this.busNumber} on the simulator`);
        return false;
      },
    );
  }

  private async call(address: number, body: Record<string, unknown>): Promise<unknown> {
    this.assertOpen(address);
    try {
      return await this.connection.request({ ...body, handle: this.handle });
    } catch (error) {
      if (error instanceof RemoteRefusedError) throw i2cErrorFrom(error.wire, this.busNumber, address, this.connection.simulator);
      // Not connected, dropped, or no answer: as on a real bus, the transfer did not complete.
      throw new I2cTimeoutError(this.busNumber, address, error instanceof Error ? error.message : String(error), { cause: error });
    }
  }

  private bytes(address: number, length: number, result: unknown): Uint8Array {
    if (typeof result !== 'string' || result.length !== length * 2 || !/^[0-9a-f]*$/.test(result)) throw this.unexpected(address, result);
    return fromHex(result);
  }

  private unexpected(address: number, result: unknown): I2cError {
    return new I2cError('i2c_error', this.busNumber, address, `the simulator at ${this.connection.simulator} answered with ${JSON.stringify(result)?.slice(0, 80)}`);
  }

  private assertOpen(address: number): void {
    if (this.closed) throw new I2cClosedError(this.busNumber, address);
  }
}

/** The same rule as the simulated and the Pi bus, checked here so it holds whether or not the simulator is reachable. */
function checkLength(length: number): void {
  if (!Number.isInteger(length) || length < 1 || length > 32) throw new RangeError(`I2C block length must be 1..32, got ${length}`);
}
