import { describeGpioContract } from '@iot/hardware/contracts';
import { describe } from 'vitest';

// The contract suite the simulated driver passes (simulator/test/gpio.contract.test.ts), against the
// real onoff driver on a Raspberry Pi whose two named BCM pins are joined by a jumper wire.

const outPin = process.env.GPIO_TEST_OUT_PIN;
const inPin = process.env.GPIO_TEST_IN_PIN;

describe.skipIf(outPin === undefined || inPin === undefined)(
  'real onoff driver on a Raspberry Pi (enable with GPIO_TEST_OUT_PIN and GPIO_TEST_IN_PIN = BCM pins joined by a jumper)',
  () => {
    describeGpioContract('onoff over sysfs, GPIO_TEST_OUT_PIN wired to GPIO_TEST_IN_PIN', async () => {
      const { createOnoffGpioController } = await import('../src/hardware/pi/onoff-gpio.ts');
      const controller = await createOnoffGpioController();
      return { controller, outPin: bcm(outPin), inPin: bcm(inPin), teardown: () => controller.close() };
    });
  },
);

function bcm(text: string | undefined): number {
  const pin = Number(text);
  if (!Number.isInteger(pin) || pin < 0 || pin > 27) throw new Error(`expected a BCM pin 0..27, got ${JSON.stringify(text)}`);
  return pin;
}
