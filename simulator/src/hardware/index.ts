export { type I2cDeviceModel, ModelNack } from './i2c-device-model.ts';
export { SimButton, SimGpioController } from './sim-gpio.ts';
export { type I2cBusFault, SimI2cSegment } from './sim-i2c.ts';
export { createSimulatedHardware, SimulatedHardware } from './simulated-hardware.ts';
export type { SimulationOptions } from './simulation-options.ts';
