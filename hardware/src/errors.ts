/**
 * Typed hardware errors. Services decide what to do by class (skip the sample, re-initialise the
 * chip, refuse to start), and log `code` so operators can count them.
 */

export class HardwareError extends Error {
  /** Stable, machine-readable kind for logs and counters. */
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

export class GpioError extends HardwareError {
  readonly pin: number;
  constructor(pin: number, message: string, options?: ErrorOptions) {
    super('gpio_error', `GPIO ${pin}: ${message}`, options);
    this.pin = pin;
  }
}

/** Base of everything that can go wrong talking to a chip on a bus. */
export class I2cError extends HardwareError {
  readonly busNumber: number;
  readonly address: number;
  constructor(code: string, busNumber: number, address: number, message: string, options?: ErrorOptions) {
    super(code, `I2C bus ${busNumber}, address ${hex(address)}: ${message}`, options);
    this.busNumber = busNumber;
    this.address = address;
  }
}

/** Nothing acknowledged: the chip is absent, unpowered, at another address, or busy (SHT31). */
export class I2cNackError extends I2cError {
  constructor(busNumber: number, address: number, detail = 'no acknowledge (chip absent or busy)', options?: ErrorOptions) {
    super('i2c_nack', busNumber, address, detail, options);
  }
}

/** The bus did not complete the transfer in time, typically SDA held low by a stuck chip. */
export class I2cTimeoutError extends I2cError {
  constructor(busNumber: number, address: number, detail = 'bus timed out (stuck bus?)', options?: ErrorOptions) {
    super('i2c_timeout', busNumber, address, detail, options);
  }
}

export class I2cClosedError extends I2cError {
  constructor(busNumber: number, address: number) {
    super('i2c_closed', busNumber, address, 'bus is closed');
  }
}

/** Data arrived but its checksum does not match (SHT3x datasheet §4.12). */
export class ChipCrcError extends I2cError {
  constructor(busNumber: number, address: number, detail: string) {
    super('chip_crc', busNumber, address, detail);
  }
}

/** The chip answered, but not as the expected chip (wrong chip id). */
export class ChipIdentityError extends I2cError {
  constructor(busNumber: number, address: number, detail: string) {
    super('chip_identity', busNumber, address, detail);
  }
}

/** The chip did not finish a conversion within its datasheet's maximum time. */
export class ChipConversionTimeoutError extends I2cError {
  constructor(busNumber: number, address: number, detail: string) {
    super('chip_conversion_timeout', busNumber, address, detail);
  }
}

/** A value outside what the chip can physically report: a broken sensor or corrupted transfer. */
export class ImplausibleValueError extends I2cError {
  readonly quantity: string;
  readonly value: number;
  constructor(busNumber: number, address: number, quantity: string, value: number, range: readonly [number, number]) {
    super('chip_implausible', busNumber, address, `implausible ${quantity} ${value} (valid ${range[0]}..${range[1]})`);
    this.quantity = quantity;
    this.value = value;
  }
}

export function hex(address: number): string {
  return `0x${address.toString(16).padStart(2, '0')}`;
}
