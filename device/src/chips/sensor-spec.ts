import { hex } from '@iot/hardware';
import type { ChipKind } from './chip.ts';
import { CHIP_KINDS } from './index.ts';

/** One configured chip: which kind, where, and an optional prefix for its field names. */
export interface SensorSpec {
  kind: ChipKind;
  address: number;
  /** Prefix for field names (`outdoor` gives `outdoor_temperature_celsius`); none for the first of a quantity. */
  name?: string;
}

const QUANTITIES_OF: Readonly<Record<ChipKind, readonly string[]>> = {
  bme280: ['temperature_celsius', 'humidity_percent', 'pressure_hpa'],
  sht31: ['temperature_celsius', 'humidity_percent'],
};

/**
 * Parses SENSORS, a comma-separated list of `kind[@address][:name]`, e.g.
 * `bme280@0x76,sht31@0x44:outdoor`, or `none`. Returns the specs or every problem found.
 */
export function parseSensorSpecs(text: string): { specs: SensorSpec[]; problems: string[] } {
  const specs: SensorSpec[] = [];
  const problems: string[] = [];
  if (text.trim().toLowerCase() === 'none') return { specs, problems };
  const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const item of items) {
    const match = /^([a-z0-9]+)(?:@(0x[0-9a-f]{1,2}|\d{1,3}))?(?::([a-z][a-z0-9_]*))?$/i.exec(item);
    if (match === null) {
      problems.push(`"${item}" is not kind[@address][:name], e.g. bme280@0x76 or sht31@0x44:outdoor`);
      continue;
    }
    const kind = match[1]!.toLowerCase();
    if (!(kind in CHIP_KINDS)) {
      problems.push(`"${item}": unknown chip "${kind}"; known: ${Object.keys(CHIP_KINDS).join(', ')}`);
      continue;
    }
    const info = CHIP_KINDS[kind as ChipKind];
    const address = match[2] === undefined ? info.defaultAddress : Number(match[2]);
    if (!info.addresses.includes(address)) {
      problems.push(`"${item}": a ${kind} answers only at ${info.addresses.map(hex).join(' or ')}`);
      continue;
    }
    specs.push({ kind: kind as ChipKind, address, ...(match[3] === undefined ? {} : { name: match[3].toLowerCase() }) });
  }
  const seenAddresses = new Set<number>();
  const seenFields = new Map<string, string>();
  for (const spec of specs) {
    if (seenAddresses.has(spec.address)) problems.push(`two sensors at ${hex(spec.address)}; each chip needs its own address`);
    seenAddresses.add(spec.address);
    for (const field of fieldNames(spec)) {
      const other = seenFields.get(field);
      if (other !== undefined) {
        problems.push(`${describe(spec)} and ${other} both write "${field}"; name one of them, e.g. ${spec.kind}@${hex(spec.address)}:outdoor`);
      }
      seenFields.set(field, describe(spec));
    }
  }
  return { specs, problems };
}

/** The stream field names a chip's values are written under. */
export function fieldNames(spec: SensorSpec): string[] {
  return QUANTITIES_OF[spec.kind].map((q) => fieldName(spec, q));
}

export function fieldName(spec: SensorSpec, quantity: string): string {
  return spec.name === undefined ? quantity : `${spec.name}_${quantity}`;
}

export function describe(spec: SensorSpec): string {
  return `${spec.kind}@${hex(spec.address)}${spec.name === undefined ? '' : `:${spec.name}`}`;
}
