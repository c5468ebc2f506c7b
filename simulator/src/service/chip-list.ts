/** The chip kinds the simulator has models for, and the addresses their datasheets allow. */
const CHIPS: Readonly<Record<string, { defaultAddress: number; addresses: readonly number[] }>> = {
  // BME280 datasheet §6.2: SDO to GND → 0x76, to VDDIO → 0x77.
  bme280: { defaultAddress: 0x76, addresses: [0x76, 0x77] },
  // SHT3x-DIS datasheet §3.2 Table 8: ADDR low → 0x44, high → 0x45.
  sht31: { defaultAddress: 0x44, addresses: [0x44, 0x45] },
};

export interface ChipPlacement {
  kind: 'bme280' | 'sht31';
  address: number;
}

/**
 * Parses SIM_CHIPS, in the syntax of the device's SENSORS: comma-separated `kind[@address][:name]`
 * or `none`. A `:name` is accepted so a device's SENSORS value can be copied as is; it only names
 * fields on the device, so the simulator ignores it.
 */
export function parseChipList(text: string): { chips: ChipPlacement[]; problems: string[] } {
  const chips: ChipPlacement[] = [];
  const problems: string[] = [];
  if (text.trim().toLowerCase() === 'none') return { chips, problems };
  for (const item of text.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const match = /^([a-z0-9]+)(?:@(0x[0-9a-f]{1,2}|\d{1,3}))?(?::([a-z][a-z0-9_]*))?$/i.exec(item);
    if (match === null) {
      problems.push(`"${item}" is not kind[@address], e.g. bme280@0x76 or sht31@0x44`);
      continue;
    }
    const kind = match[1]!.toLowerCase();
    const info = Object.hasOwn(CHIPS, kind) ? CHIPS[kind] : undefined;
    if (info === undefined) {
      problems.push(`"${item}": no simulated chip "${kind}"; known: ${Object.keys(CHIPS).join(', ')}`);
      continue;
    }
    const address = match[2] === undefined ? info.defaultAddress : Number(match[2]);
    if (!info.addresses.includes(address)) {
      problems.push(`"${item}": a ${kind} answers only at ${info.addresses.map(hex).join(' or ')}`);
      continue;
    }
    if (chips.some((chip) => chip.address === address)) {
      problems.push(`two chips at ${hex(address)}; each chip needs its own address`);
      continue;
    }
    chips.push({ kind: kind as ChipPlacement['kind'], address });
  }
  return { chips, problems };
}

function hex(address: number): string {
  return `0x${address.toString(16).padStart(2, '0')}`;
}
