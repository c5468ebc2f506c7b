import { Bme280Model } from '@iot/simulator/chips';
import { describe } from 'vitest';
import { describeI2cContract } from '../../device/test/contracts/i2c-contract.ts';
import { constantEnvironment } from '../src/environment/environment.ts';
import { SimI2cSegment } from '../src/hardware/sim-i2c.ts';

// The same suite, twice (the node-serialport pattern): always against the simulated bus with a
// register-level BME280 model, and against /dev/i2c-N on a Raspberry Pi with a real BME280.

describeI2cContract('simulated (SimI2cSegment with a Bme280Model at 0x76)', async () => {
  const segment = new SimI2cSegment(1);
  segment.attach(0x76, new Bme280Model({ environment: constantEnvironment() }));
  const bus = segment.open();
  return { bus, bme280Address: 0x76, absentAddress: 0x77, teardown: () => bus.close() };
});

const busNumber = process.env.I2C_TEST_BUS;
const bme280Address = process.env.I2C_TEST_BME280_ADDRESS;

describe.skipIf(busNumber === undefined || bme280Address === undefined)(
  'real i2c-bus driver on a Raspberry Pi (enable with I2C_TEST_BUS and I2C_TEST_BME280_ADDRESS, e.g. 1 and 0x76)',
  () => {
    describeI2cContract('i2c-bus on /dev/i2c-$I2C_TEST_BUS, BME280 at $I2C_TEST_BME280_ADDRESS', async () => {
      const { openI2cBusDriver } = await import('../../device/src/hardware/pi/i2c-bus-driver.ts');
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
