export { describeGpioContract, type GpioFixture } from './gpio-contract.ts';
export { describeI2cContract, type I2cFixture } from './i2c-contract.ts';
