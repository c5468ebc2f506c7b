export type { Edge, EdgeListener, GpioController, GpioInputOptions, GpioOutputOptions, GpioPin, GpioPinOptions, Level, Pull } from './gpio.ts';
export type { I2cBus } from './i2c.ts';
export * from './errors.ts';
export { Debouncer, filterEdge } from './debounce.ts';
export type { Hardware, HardwareKind } from './hardware.ts';
