import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import type { PromisifiedBus } from 'i2c-bus';
import { HardwareError, I2cClosedError, I2cError, I2cNackError, I2cTimeoutError } from '@iot/hardware';
import type { I2cBus } from '@iot/hardware';
import { errnoCode } from './errno.ts';

/** The character device i2c-dev creates for bus N (i2c-bus opens exactly this path). */
export function i2cDevicePath(busNumber: number): string {
  return `/dev/i2c-${busNumber}`;
}

/**
 * Maps the errno of a failed transfer to a typed error. Which errno a missing acknowledge produces
 * depends on the adapter driver (Documentation/i2c/fault-codes.rst): ENXIO for "no response to
 * the address", EREMOTEIO from i2c-bcm2835 (the Pi's I2C controller), and EIO from adapters that
 * cannot tell a NACK from other failures. ETIMEDOUT is a transfer that did not finish, typically
 * SDA held low. Errors that are already typed pass through unchanged.
 */
export function i2cTransferError(busNumber: number, address: number, error: unknown): HardwareError {
  if (error instanceof HardwareError) return error;
  const code = errnoCode(error);
  switch (code) {
    case 'ENXIO':
    case 'EREMOTEIO':
    case 'EIO':
      return new I2cNackError(busNumber, address, `no acknowledge (${code}): chip absent, unpowered, at another address, or busy`, {
        cause: error,
      });
    case 'ETIMEDOUT':
      return new I2cTimeoutError(busNumber, address, 'bus timed out (ETIMEDOUT): SDA or SCL held low by a stuck chip?', {
        cause: error,
      });
    case 'EBUSY':
      return new I2cError(
        'i2c_busy',
        busNumber,
        address,
        'address is claimed by a kernel driver (EBUSY): remove the dtoverlay that binds a driver to this chip',
        { cause: error },
      );
    case 'ENOENT':
    case 'EACCES':
    case 'EPERM':
      return new I2cError(deviceErrorKind(code), busNumber, address, deviceProblem(busNumber, code), { cause: error });
    default:
      return new I2cError('i2c_error', busNumber, address, `transfer failed (${code ?? describe(error)})`, { cause: error });
  }
}

/**
 * Maps a failure to open /dev/i2c-N, before any chip is addressed. Not an {@link I2cError}: no
 * chip is involved, the device is misconfigured and the service should refuse to start.
 */
export function i2cOpenError(busNumber: number, error: unknown): HardwareError {
  const code = errnoCode(error);
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EPERM') {
    return new HardwareError(deviceErrorKind(code), `I2C bus ${busNumber}: ${deviceProblem(busNumber, code)}`, { cause: error });
  }
  return new HardwareError('i2c_open', `I2C bus ${busNumber}: cannot open ${i2cDevicePath(busNumber)} (${code ?? describe(error)})`, {
    cause: error,
  });
}

/**
 * Opens /dev/i2c-N through i2c-bus. i2c-bus opens the device lazily on the first transfer, so its
 * presence and permissions are checked here to fail at start-up rather than at the first reading.
 */
export async function openI2cBusDriver(busNumber: number): Promise<I2cBus> {
  if (!Number.isInteger(busNumber) || busNumber < 0) throw new RangeError(`I2C bus number must be a non-negative integer, got ${busNumber}`);
  try {
    await access(i2cDevicePath(busNumber), constants.R_OK | constants.W_OK);
  } catch (error) {
    throw i2cOpenError(busNumber, error);
  }
  const { openPromisified } = await import('i2c-bus');
  return new I2cBusDriver(busNumber, await openPromisified(busNumber));
}

/** {@link I2cBus} over i2c-bus's promise API (SMBus ioctls for register access, read/write for raw). */
class I2cBusDriver implements I2cBus {
  readonly busNumber: number;
  private readonly bus: PromisifiedBus;
  private closed = false;

  constructor(busNumber: number, bus: PromisifiedBus) {
    this.busNumber = busNumber;
    this.bus = bus;
  }

  async readByte(address: number, register: number): Promise<number> {
    return this.transfer(address, (bus) => bus.readByte(address, register));
  }

  async writeByte(address: number, register: number, value: number): Promise<void> {
    await this.transfer(address, (bus) => bus.writeByte(address, register, value & 0xff));
  }

  async readBlock(address: number, register: number, length: number): Promise<Uint8Array> {
    checkLength(length);
    return this.transfer(address, async (bus) => {
      const { bytesRead, buffer } = await bus.readI2cBlock(address, register, length, Buffer.alloc(length));
      this.checkComplete(address, 'read', bytesRead, length);
      return new Uint8Array(buffer.subarray(0, length));
    });
  }

  async writeBlock(address: number, register: number, data: Uint8Array): Promise<void> {
    checkLength(data.length);
    await this.transfer(address, async (bus) => {
      const { bytesWritten } = await bus.writeI2cBlock(address, register, data.length, Buffer.from(data));
      this.checkComplete(address, 'write', bytesWritten, data.length);
    });
  }

  async write(address: number, data: Uint8Array): Promise<void> {
    await this.transfer(address, async (bus) => {
      const { bytesWritten } = await bus.i2cWrite(address, data.length, Buffer.from(data));
      this.checkComplete(address, 'write', bytesWritten, data.length);
    });
  }

  async read(address: number, length: number): Promise<Uint8Array> {
    checkLength(length);
    return this.transfer(address, async (bus) => {
      const { bytesRead, buffer } = await bus.i2cRead(address, length, Buffer.alloc(length));
      this.checkComplete(address, 'read', bytesRead, length);
      return new Uint8Array(buffer.subarray(0, length));
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.bus.close();
  }

  private async transfer<T>(address: number, run: (bus: PromisifiedBus) => Promise<T>): Promise<T> {
    if (this.closed) throw new I2cClosedError(this.busNumber, address);
    try {
      return await run(this.bus);
    } catch (error) {
      throw i2cTransferError(this.busNumber, address, error);
    }
  }

  /** A transfer that moved fewer bytes than asked is an error, never a shorter result. */
  private checkComplete(address: number, kind: 'read' | 'write', moved: number, length: number): void {
    if (moved < length) {
      throw new I2cError(`i2c_short_${kind}`, this.busNumber, address, `short ${kind}: ${moved} of ${length} bytes`);
    }
  }
}

function deviceErrorKind(code: 'ENOENT' | 'EACCES' | 'EPERM'): string {
  return code === 'ENOENT' ? 'i2c_no_bus' : 'i2c_permission';
}

function deviceProblem(busNumber: number, code: 'ENOENT' | 'EACCES' | 'EPERM'): string {
  const path = i2cDevicePath(busNumber);
  if (code === 'ENOENT') {
    return (
      `${path} does not exist: enable I2C (dtparam=i2c_arm=on in config.txt; on balenaOS the device variable ` +
      'BALENA_HOST_CONFIG_dtparam including "i2c_arm=on") and make the device visible in the container'
    );
  }
  return `no permission to open ${path} (${code}): run the container privileged or add the user to the i2c group`;
}

function checkLength(length: number): void {
  if (!Number.isInteger(length) || length < 1 || length > 32) throw new RangeError(`I2C block length must be 1..32, got ${length}`);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
