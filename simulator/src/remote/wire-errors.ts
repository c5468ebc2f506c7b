import { GpioError, hex, I2cClosedError, I2cError, I2cNackError, I2cTimeoutError } from '@iot/hardware';
import type { WireError } from './remote-protocol.ts';

/**
 * Failures cross the wire as the contract's error class and the failure's own words, so the
 * client rethrows exactly what the GPIO and I2C contracts promise (docs/hardware-contracts.md §4):
 * an I2cNackError from the simulated bus is an I2cNackError in the device service.
 */

/** A request the server could not even try: malformed, unknown handle, a limit reached. */
export class RemoteProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RemoteProtocolError';
  }
}

export function encodeError(error: unknown): WireError {
  if (error instanceof GpioError) return { type: 'GpioError', message: stripPrefix(error.message, `GPIO ${error.pin}: `) };
  if (error instanceof I2cError) {
    const message = stripPrefix(error.message, `I2C bus ${error.busNumber}, address ${hex(error.address)}: `);
    if (error instanceof I2cNackError) return { type: 'I2cNackError', message };
    if (error instanceof I2cTimeoutError) return { type: 'I2cTimeoutError', message };
    if (error instanceof I2cClosedError) return { type: 'I2cClosedError', message };
    return { type: 'I2cError', message, code: error.code };
  }
  if (error instanceof RangeError) return { type: 'RangeError', message: error.message };
  if (error instanceof RemoteProtocolError) return { type: 'ProtocolError', message: error.message };
  return { type: 'Error', message: error instanceof Error ? error.message : String(error) };
}

/** What a GPIO operation on `pin` rethrows: always a GpioError, as the contract promises. */
export function gpioErrorFrom(error: WireError, pin: number, simulator: string): GpioError {
  if (error.type === 'GpioError') return new GpioError(pin, error.message);
  return new GpioError(pin, `the simulator at ${simulator} refused the request: ${error.message}`);
}

/** What an I2C operation at `address` rethrows: the contract's I2cError subclass, or a RangeError for a bad length. */
export function i2cErrorFrom(error: WireError, busNumber: number, address: number, simulator: string): Error {
  switch (error.type) {
    case 'I2cNackError':
      return new I2cNackError(busNumber, address, error.message);
    case 'I2cTimeoutError':
      return new I2cTimeoutError(busNumber, address, error.message);
    case 'I2cClosedError':
      return new I2cClosedError(busNumber, address);
    case 'I2cError':
      return new I2cError(error.code ?? 'i2c_error', busNumber, address, error.message);
    case 'RangeError':
      return new RangeError(error.message);
    default:
      return new I2cError('i2c_error', busNumber, address, `the simulator at ${simulator} refused the transfer: ${error.message}`);
  }
}

function stripPrefix(message: string, prefix: string): string {
  return message.startsWith(prefix) ? message.slice(prefix.length) : message;
}
