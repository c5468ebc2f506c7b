import { describe, expect, it } from 'vitest';
import { HardwareError, I2cError, I2cNackError, I2cTimeoutError } from '@iot/hardware';
import { i2cOpenError, i2cTransferError, openI2cBusDriver } from '../src/hardware/pi/i2c-bus-driver.ts';

/** An error shaped like those i2c-bus rejects with (Nan::ErrnoException / fs errors). */
function systemError(code: string, errno: number, syscall = 'ioctl'): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}, ${syscall}`), { code, errno, syscall });
}

describe('i2cTransferError', () => {
  // errno values from Linux include/uapi/asm-generic/errno-base.h and errno.h.
  it.each([
    ['ENXIO', 6],
    ['EREMOTEIO', 121],
    ['EIO', 5],
  ])('maps %s (a missing acknowledge) to I2cNackError', (code, errno) => {
    const cause = systemError(code, errno);
    const error = i2cTransferError(1, 0x76, cause);
    expect(error).toBeInstanceOf(I2cNackError);
    expect(error.code).toBe('i2c_nack');
    expect((error as I2cNackError).busNumber).toBe(1);
    expect((error as I2cNackError).address).toBe(0x76);
    expect(error.message).toContain('I2C bus 1, address 0x76');
    expect(error.message).toContain(code);
    expect(error.cause).toBe(cause);
  });

  it('maps ETIMEDOUT to I2cTimeoutError', () => {
    const error = i2cTransferError(1, 0x44, systemError('ETIMEDOUT', 110));
    expect(error).toBeInstanceOf(I2cTimeoutError);
    expect(error.code).toBe('i2c_timeout');
    expect(error.message).toContain('0x44');
  });

  it('recognises an errno given only as a number, as addons do for names Node does not know', () => {
    const bare = Object.assign(new Error('ioctl failed'), { errno: 121 });
    expect(i2cTransferError(1, 0x76, bare)).toBeInstanceOf(I2cNackError);
    const libuvStyle = Object.assign(new Error('read failed'), { errno: -110 });
    expect(i2cTransferError(1, 0x76, libuvStyle)).toBeInstanceOf(I2cTimeoutError);
  });

  it('explains a missing /dev/i2c-N met during a transfer', () => {
    const error = i2cTransferError(3, 0x76, systemError('ENOENT', -2, 'open'));
    expect(error).toBeInstanceOf(I2cError);
    expect(error.code).toBe('i2c_no_bus');
    expect(error.message).toContain('/dev/i2c-3 does not exist');
    expect(error.message).toContain('dtparam=i2c_arm=on');
    expect(error.message).toContain('BALENA_HOST_CONFIG_dtparam');
  });

  it('maps EBUSY (address bound to a kernel driver) to a typed I2cError that is not a NACK', () => {
    const error = i2cTransferError(1, 0x76, systemError('EBUSY', 16));
    expect(error).toBeInstanceOf(I2cError);
    expect(error).not.toBeInstanceOf(I2cNackError);
    expect(error.code).toBe('i2c_busy');
    expect(error.message).toContain('dtoverlay');
  });

  it('wraps anything else as a generic I2cError keeping the cause', () => {
    const cause = new Error('Invalid I2C address 200');
    const error = i2cTransferError(1, 200, cause);
    expect(error).toBeInstanceOf(I2cError);
    expect(error).not.toBeInstanceOf(I2cNackError);
    expect(error.code).toBe('i2c_error');
    expect(error.message).toContain('Invalid I2C address 200');
    expect(error.cause).toBe(cause);
  });

  it('passes an already typed error through unchanged', () => {
    const typed = new I2cNackError(1, 0x76);
    expect(i2cTransferError(1, 0x76, typed)).toBe(typed);
  });
});

describe('i2cOpenError', () => {
  it('tells how to enable I2C when /dev/i2c-N does not exist', () => {
    const error = i2cOpenError(1, systemError('ENOENT', -2, 'access'));
    expect(error).toBeInstanceOf(HardwareError);
    expect(error).not.toBeInstanceOf(I2cError);
    expect(error.code).toBe('i2c_no_bus');
    expect(error.message).toMatch(/^I2C bus 1: \/dev\/i2c-1 does not exist: enable I2C \(dtparam=i2c_arm=on/);
  });

  it('tells how to get permission on EACCES', () => {
    const error = i2cOpenError(1, systemError('EACCES', -13, 'access'));
    expect(error.code).toBe('i2c_permission');
    expect(error.message).toContain('privileged');
    expect(error.message).toContain('i2c group');
  });
});

describe('openI2cBusDriver', () => {
  it('fails at open, not at the first transfer, when the bus device is missing', async () => {
    // No machine has 250 I2C adapters, so /dev/i2c-250 is absent here and on a Pi alike.
    const error = await openI2cBusDriver(250).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HardwareError);
    expect((error as HardwareError).code).toBe('i2c_no_bus');
    expect((error as HardwareError).message).toContain('/dev/i2c-250 does not exist');
  });
});
