import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GpioError } from '@iot/hardware';
import { sysfsGpioNumber } from '../src/hardware/pi/gpiochip-base.ts';

// Fake /sys/class/gpio trees, laid out as the kernel does (Documentation/ABI/obsolete/sysfs-gpio):
// export, unexport, and one gpiochipN directory per controller with base, label and ngpio.

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'sysfs-gpio-'));
  await writeFile(join(root, 'export'), '');
  await writeFile(join(root, 'unexport'), '');
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function chip(base: number, label: string, ngpio: number): Promise<void> {
  const dir = join(root, `gpiochip${base}`);
  await mkdir(dir);
  await writeFile(join(dir, 'base'), `${base}\n`);
  await writeFile(join(dir, 'label'), `${label}\n`);
  await writeFile(join(dir, 'ngpio'), `${ngpio}\n`);
}

describe('sysfsGpioNumber', () => {
  it('maps BCM n to n on kernels before 6.6 (Pi 4: pinctrl-bcm2711 at base 0)', async () => {
    await chip(0, 'pinctrl-bcm2711', 58);
    await chip(504, 'raspberrypi-exp-gpio', 8);
    expect(await sysfsGpioNumber(17, root)).toBe(17);
    expect(await sysfsGpioNumber(0, root)).toBe(0);
  });

  it('maps BCM n to 512 + n on a Pi 4 with kernel 6.6+', async () => {
    await chip(512, 'pinctrl-bcm2711', 58);
    await chip(570, 'raspberrypi-exp-gpio', 8);
    expect(await sysfsGpioNumber(17, root)).toBe(529);
    expect(await sysfsGpioNumber(27, root)).toBe(539);
  });

  it('maps BCM n to 512 + n on a Pi 3 / Zero (pinctrl-bcm2835) with kernel 6.6+', async () => {
    await chip(512, 'pinctrl-bcm2835', 54);
    expect(await sysfsGpioNumber(4, root)).toBe(516);
  });

  it('uses the RP1 chip on a Pi 5 (base 571) and ignores the BCM2712 chips around it', async () => {
    await chip(512, 'gpio-brcmstb@107d508500', 32);
    await chip(544, 'gpio-brcmstb@107d508520', 4);
    await chip(548, 'gpio-brcmstb@107d517c00', 17);
    await chip(565, 'gpio-brcmstb@107d517c20', 6);
    await chip(571, 'pinctrl-rp1', 54);
    expect(await sysfsGpioNumber(17, root)).toBe(588);
    expect(await sysfsGpioNumber(2, root)).toBe(573);
  });

  it('refuses a pin the chip does not have, naming the pin', async () => {
    await chip(512, 'pinctrl-bcm2711', 58);
    const error = await sysfsGpioNumber(58, root).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GpioError);
    expect((error as GpioError).pin).toBe(58);
    expect((error as GpioError).message).toContain('0..57');
  });

  it('explains which chips it saw when none drives the header', async () => {
    await chip(0, 'gpio-mockup-A', 8);
    const error = await sysfsGpioNumber(17, root).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GpioError);
    expect((error as GpioError).pin).toBe(17);
    expect((error as GpioError).message).toContain('gpio-mockup-A');
    expect((error as GpioError).message).toContain('is this a Raspberry Pi');
    expect((error as GpioError).message).toContain('/sys mounted');
  });

  it('says so when the sysfs tree has no gpiochips at all', async () => {
    await expect(sysfsGpioNumber(17, root)).rejects.toThrow(/no gpiochips at all.*is this a Raspberry Pi/);
  });

  it('says so when the sysfs root does not exist', async () => {
    const error = await sysfsGpioNumber(17, join(root, 'missing')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GpioError);
    expect((error as GpioError).message).toMatch(/ENOENT.*\/sys mounted/);
  });
});
