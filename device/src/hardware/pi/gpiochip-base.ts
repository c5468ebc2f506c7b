import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GpioError } from '@iot/hardware';

/** Where the kernel's (deprecated) sysfs GPIO interface lives. */
export const DEFAULT_SYSFS_GPIO_ROOT = '/sys/class/gpio';

/**
 * Labels of the gpiochip that drives the 40-pin header, best first. On a Pi 5 the header belongs
 * to the RP1 south bridge; its BCM2712 also registers gpiochips (`gpio-brcmstb@…`), which must not
 * be chosen. Pi 4 uses the BCM2711 controller, earlier models the BCM2835 one.
 */
export const HEADER_GPIOCHIP_LABELS: readonly string[] = ['pinctrl-rp1', 'pinctrl-bcm2711', 'pinctrl-bcm2835'];

/** One `gpiochipN` directory under the sysfs GPIO root. */
export interface Gpiochip {
  /** Directory name, e.g. `gpiochip512`. */
  name: string;
  label: string;
  /** First sysfs GPIO number of this chip: line `n` is sysfs GPIO `base + n`. */
  base: number;
  /** Number of lines; undefined if the kernel did not say. */
  ngpio: number | undefined;
}

/**
 * Picks the chip that drives the header among everything the kernel registered (expanders, the
 * firmware's `raspberrypi-exp-gpio`, the BCM2712's own controllers), or undefined if none fits.
 */
export function chooseHeaderGpiochip(chips: readonly Gpiochip[]): Gpiochip | undefined {
  for (const label of HEADER_GPIOCHIP_LABELS) {
    const chip = chips.find((c) => c.label === label);
    if (chip !== undefined) return chip;
  }
  return undefined;
}

/** Reads every `gpiochip*` directory under `sysfsRoot`; unreadable entries are left out. */
export async function readGpiochips(sysfsRoot: string = DEFAULT_SYSFS_GPIO_ROOT): Promise<Gpiochip[]> {
  const names = (await readdir(sysfsRoot)).filter((name) => name.startsWith('gpiochip')).sort();
  const chips: Gpiochip[] = [];
  for (const name of names) {
    const label = await readTrimmed(join(sysfsRoot, name, 'label'));
    const base = parseDecimal(await readTrimmed(join(sysfsRoot, name, 'base')));
    if (label === undefined || base === undefined) continue;
    const ngpio = parseDecimal(await readTrimmed(join(sysfsRoot, name, 'ngpio')));
    chips.push({ name, label, base, ngpio });
  }
  return chips;
}

/**
 * Translates a BCM pin number into the number sysfs expects. Kernels before 6.6 register the SoC's
 * controller at base 0, so the two agree; from 6.6 on, gpiochip bases are allocated dynamically
 * from 512 upwards (512 on a Pi 4, 571 on a Pi 5), so BCM n is sysfs `base + n`.
 * @throws GpioError naming `pin` if the sysfs tree is missing, no header gpiochip is registered, or
 *   the chip has no such line.
 */
export async function sysfsGpioNumber(pin: number, sysfsRoot: string = DEFAULT_SYSFS_GPIO_ROOT): Promise<number> {
  if (!Number.isInteger(pin) || pin < 0) throw new GpioError(pin, 'not a BCM pin number');
  let chips: Gpiochip[];
  try {
    chips = await readGpiochips(sysfsRoot);
  } catch (error) {
    throw new GpioError(pin, `cannot list ${sysfsRoot} (${errorCode(error)}): is this a Raspberry Pi, and is /sys mounted into the container?`, {
      cause: error,
    });
  }
  const chip = chooseHeaderGpiochip(chips);
  if (chip === undefined) {
    const found = chips.length === 0 ? 'no gpiochips at all' : `found ${chips.map((c) => `${c.name} "${c.label}"`).join(', ')}`;
    throw new GpioError(
      pin,
      `no gpiochip with label ${HEADER_GPIOCHIP_LABELS.join(' / ')} under ${sysfsRoot} (${found}): ` +
        'is this a Raspberry Pi, and is /sys mounted into the container?',
    );
  }
  if (chip.ngpio !== undefined && pin >= chip.ngpio) {
    throw new GpioError(pin, `no such pin: ${chip.label} (${chip.name}) has lines 0..${chip.ngpio - 1}`);
  }
  return chip.base + pin;
}

async function readTrimmed(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

function parseDecimal(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  return Number(text);
}

function errorCode(error: unknown): string {
  return (error as { code?: unknown }).code?.toString() ?? String(error);
}
