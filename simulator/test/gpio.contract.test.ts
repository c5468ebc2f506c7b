import { describeGpioContract } from '@iot/hardware/contracts';
import { SimGpioController } from '../src/hardware/sim-gpio.ts';

// The contract suite every GPIO driver passes (docs/hardware-contracts.md); the real onoff driver
// runs the same suite in device/test/gpio-contract-pi.test.ts.

describeGpioContract('simulated (SimGpioController, BCM 17 wired to 27)', async () => {
  const controller = new SimGpioController({ seed: 7 });
  controller.wire(17, 27);
  return { controller, outPin: 17, inPin: 27, teardown: () => controller.close() };
});
