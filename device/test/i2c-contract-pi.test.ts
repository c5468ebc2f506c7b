import { describeI2cContract } from '@iot/hardware/contracts';
import { describe } from 'vitest';

// The contract suite the simulated bus passes (simulator/test/i2c.contract.test.ts), against
// /dev/i2c-N on a Raspberry Pi with a real BME280.

const busNumber = process.env.I2C_TEST_BUS;
const bme280Address = process.env.I2C_TEST_BME280_ADDRESS;

describe.skipIf(busNumber === undefined || bme280Address === undefined)(
  'real i2c-bus driver on a Raspberry Pi (enable with I2C_TEST_BUS and I2C_TEST_BME280_ADDRESS, e.g. 1 and 0x76)',
  () => {
    describeI2cContract('i2c-bus on /dev/i2c-$I2C_TEST_BUS, BME280 at $I2C_TEST_BME280_ADDRESS', async () => {
      const { openI2cBusDriver } = await import('../src/hardware/pi/i2c-bus-driver.ts');
      const bus = await openI2cBusDriver(integer(busNumber));
      const address = integer(bme280Address);
      // The BME280's other address is free unless a second one is fitted; override if it is.
      const absent = process.env.I2C_TEST_ABSENT_ADDRESS ?? (address === 0x76 ? '0x77' : '0x76');
      return { bus, bme280Address: address, absentAddress: integer(absent), teardown: () => bus.close() };
    });
  },
);

/** Parses decimal or 0x-prefixed hex, as people write I2C addresses. */
function integer(text: string | undefined): number {
  const value = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isInteger(value) || value < 0) {
    throw new Error(`expected a non-negative integer (decimal or 0x hex), got ${JSON.stringify(text)}`);
  }
  return value;
}
