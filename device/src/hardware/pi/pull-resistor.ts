import { execFile } from 'node:child_process';
import type { Pull } from '@iot/hardware';

/** Runs a program with arguments; rejects if it cannot be run or exits non-zero. */
export type RunCommand = (file: string, args: readonly string[]) => Promise<void>;

/** `pinctrl` arguments for a pull (raspberrypi/utils pinctrl: `ip` input, `pu`/`pd`/`pn` pull). */
export function pinctrlPullArgs(pin: number, pull: Pull): string[] {
  return ['set', String(pin), 'ip', pullCode(pull)];
}

/**
 * How to configure the pull at boot when it cannot be set at run time: the firmware's `gpio=`
 * directive in config.txt (raspberrypi documentation, "config.txt: GPIO control"), which balenaOS
 * writes from the device variable BALENA_HOST_CONFIG_gpio.
 */
export function pullBootConfigHint(pin: number, pull: Pull): string {
  const setting = `${pin}=ip,${pullCode(pull)}`;
  return `on balenaOS set the device variable BALENA_HOST_CONFIG_gpio="${setting}"; on Raspberry Pi OS add gpio=${setting} to config.txt`;
}

/**
 * Sets an input's pull resistor with `pinctrl`, since the sysfs interface cannot. sysfs leaves
 * whatever pull the pin had, which on a fresh boot is the SoC default (BCM2711 ARM Peripherals
 * §5.3, "Pull" column of the alternative function table: GPIO 0–8 pull high, 9–27 pull low), so a missing pull is a warning, not a failure:
 * the pin still works when something drives it, and the warning says how to fix it at boot.
 * @returns a warning to show the operator, or undefined if the pull is set.
 */
export async function configurePull(pin: number, pull: Pull, run: RunCommand = execFileCommand): Promise<string | undefined> {
  const args = pinctrlPullArgs(pin, pull);
  try {
    await run('pinctrl', args);
    return undefined;
  } catch (error) {
    const reason = (error as { code?: unknown }).code ?? (error instanceof Error ? error.message : String(error));
    return (
      `GPIO ${pin}: could not set pull ${pull} with "pinctrl ${args.join(' ')}" (${String(reason)}); ` +
      `the pin keeps its previous pull. ${pullBootConfigHint(pin, pull)}`
    );
  }
}

/** The default {@link RunCommand}: execFile without a shell, bounded so a hung tool cannot stall an open. */
export const execFileCommand: RunCommand = (file, args) =>
  new Promise((resolve, reject) => {
    execFile(file, [...args], { timeout: 5000 }, (error) => (error ? reject(error) : resolve()));
  });

function pullCode(pull: Pull): 'pu' | 'pd' | 'pn' {
  if (pull === 'up') return 'pu';
  if (pull === 'down') return 'pd';
  return 'pn';
}
