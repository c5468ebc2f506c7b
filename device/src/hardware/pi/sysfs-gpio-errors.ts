import { GpioError } from '@iot/hardware';
import { errnoCode } from './errno.ts';

/** What the driver was doing when the kernel said no. */
export type SysfsGpioAction = 'open' | 'read' | 'write' | 'watch';

/**
 * Turns an error from the sysfs GPIO interface (writing `export`, `direction`, `edge`, `value`)
 * into a GpioError that names the BCM pin, the sysfs number it maps to, and what to do about it.
 * The errno meanings are those of drivers/gpio/gpiolib-sysfs.c: EBUSY when the line is already
 * requested, EINVAL when the number is not a line the kernel lets userspace have.
 */
export function sysfsGpioError(pin: number, sysfsNumber: number, action: SysfsGpioAction, error: unknown): GpioError {
  const code = errnoCode(error);
  const where = `sysfs GPIO ${sysfsNumber}`;
  switch (code) {
    case 'EBUSY':
      return new GpioError(
        pin,
        `${where} is busy: already exported or requested by another process or kernel driver (a dtoverlay, a libgpiod user, another service)`,
        { cause: error },
      );
    case 'EACCES':
    case 'EPERM':
      return new GpioError(
        pin,
        `no permission to ${action} ${where} (${code}): run the container privileged or add the user to the gpio group`,
        { cause: error },
      );
    case 'EINVAL':
      return new GpioError(
        pin,
        `${where} is not available (EINVAL): claimed by the kernel for another function (I2C, SPI, UART, 1-Wire?) or not a GPIO line`,
        { cause: error },
      );
    case 'ENOENT':
      return new GpioError(
        pin,
        `${where} does not exist (ENOENT): is sysfs GPIO enabled in the kernel and /sys mounted into the container?`,
        { cause: error },
      );
    default:
      return new GpioError(pin, `${action} on ${where} failed (${code ?? describe(error)})`, { cause: error });
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
