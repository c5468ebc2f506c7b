/**
 * The SHT3x-DIS commands and timings this firmware uses. Every command is 16 bits, sent MSB first
 * as a plain I2C write (datasheet §4.3).
 */

/** Repeatability trades conversion time (and self-heating) for noise (datasheet Table 1, 2, 4). */
export type Sht31Repeatability = 'high' | 'medium' | 'low';

/** Single shot measurement with clock stretching disabled (datasheet §4.3, Table 9). */
export const SINGLE_SHOT_COMMAND: Readonly<Record<Sht31Repeatability, number>> = {
  high: 0x2400,
  medium: 0x240b,
  low: 0x2416,
};

/** Soft reset (datasheet §4.9): reloads calibration, returns to idle. */
export const SOFT_RESET_COMMAND = 0x30a2;
/** Read out of the status register (datasheet §4.11): answers with one word + CRC. */
export const READ_STATUS_COMMAND = 0xf32d;

/** Status register bits (datasheet §4.11, Table 17). */
export const STATUS_BIT = {
  alertPending: 1 << 15,
  heaterOn: 1 << 13,
  humidityTrackingAlert: 1 << 11,
  temperatureTrackingAlert: 1 << 10,
  /** Set by a hard reset, the soft reset command or a supply fail; cleared by CLEAR_STATUS. */
  resetDetected: 1 << 4,
  /** Set when the last command was not processed (invalid, or failed checksum). */
  commandFailed: 1 << 1,
  writeChecksumFailed: 1 << 0,
} as const;

/** Maximum measurement duration in ms (datasheet Table 4; typical for high repeatability is 12.5). */
export const MEASUREMENT_MAX_MS: Readonly<Record<Sht31Repeatability, number>> = {
  high: 15.5,
  medium: 6.5,
  low: 4.5,
};

/**
 * Wait between the status command and reading its answer. The datasheet gives no time for it
 * (§4.11); a chip still busy with the command NACKs the read header as during a conversion
 * (§4.4), so the driver waits a millisecond, as Sensirion's reference driver does, and retries a
 * NACK a few times before it gives up.
 */
export const STATUS_READ_WAIT_MS = 1;

/** Maximum soft reset time in ms (datasheet Table 4, t_SR). */
export const SOFT_RESET_MAX_MS = 1.5;

/** A 16-bit command as the two bytes sent on the wire, MSB first (datasheet §4.3). */
export function commandBytes(command: number): Uint8Array {
  return Uint8Array.of((command >> 8) & 0xff, command & 0xff);
}
