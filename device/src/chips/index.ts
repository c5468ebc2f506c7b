import { Bme280Driver } from './bme280/driver.ts';
import type { ChipDriver, ChipDriverOptions, ChipKind } from './chip.ts';
import { Sht31Driver } from './sht31/driver.ts';

export type { ChipDriver, ChipDriverOptions, ChipKind, Sample } from './chip.ts';
export { Bme280Driver } from './bme280/driver.ts';
export { Sht31Driver } from './sht31/driver.ts';

/** The chips this firmware can read, with the address each one answers on by default. */
export const CHIP_KINDS: Readonly<Record<ChipKind, { defaultAddress: number; addresses: readonly number[] }>> = {
  // BME280 datasheet §6.2: SDO to GND gives 0x76, to VDDIO 0x77.
  bme280: { defaultAddress: 0x76, addresses: [0x76, 0x77] },
  // SHT3x-DIS datasheet §3.2 / Table 8: ADDR low 0x44, high 0x45.
  sht31: { defaultAddress: 0x44, addresses: [0x44, 0x45] },
};

export function createChipDriver(kind: ChipKind, options: ChipDriverOptions): ChipDriver {
  switch (kind) {
    case 'bme280':
      return new Bme280Driver(options);
    case 'sht31':
      return new Sht31Driver(options);
  }
}
