/**
 * Times on the wire are milliseconds since the epoch. The latest instant a JavaScript Date can
 * hold is 8.64e15 ms (ECMA-262 §21.4.1.1, +275760-09-13): a time beyond it cannot be shown,
 * charted or compared as a date anywhere downstream, so it is refused as `out_of_range`. Earlier
 * times, however implausible (a Pi without a real-time clock boots in 1970), are kept: they are
 * what the device measured.
 */
export const MAX_EPOCH_MS = 8_640_000_000_000_000;

export function isEpochMs(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= MAX_EPOCH_MS;
}
