import { describeI2cContract } from '@iot/hardware/contracts';
import { Bme280Model } from '../src/chips/index.ts';
import { constantEnvironment } from '../src/environment/environment.ts';
import { SimI2cSegment } from '../src/hardware/sim-i2c.ts';

// The contract suite every I2C driver passes (docs/hardware-contracts.md), here on the simulated bus
// with a register-level BME280 model; the real i2c-bus driver runs the same suite in
// device/test/i2c-contract-pi.test.ts.

describeI2cContract('simulated (SimI2cSegment with a Bme280Model at 0x76)', async () => {
  const segment = new SimI2cSegment(1);
  segment.attach(0x76, new Bme280Model({ environment: constantEnvironment() }));
  const bus = segment.open();
  return { bus, bme280Address: 0x76, absentAddress: 0x77, teardown: () => bus.close() };
});
