import { CALIB_H_LENGTH, CALIB_TP_LENGTH } from './registers.ts';

/**
 * The chip's trimming parameters (datasheet §4.2.2 Table 16), programmed into NVM at the factory
 * and different on every chip.
 */
export interface Bme280Calibration {
  digT1: number; // unsigned short
  digT2: number; // signed short
  digT3: number; // signed short
  digP1: number; // unsigned short
  digP2: number; // signed short …
  digP3: number;
  digP4: number;
  digP5: number;
  digP6: number;
  digP7: number;
  digP8: number;
  digP9: number; // … signed short
  digH1: number; // unsigned char
  digH2: number; // signed short
  digH3: number; // unsigned char
  digH4: number; // signed 12 bit
  digH5: number; // signed 12 bit
  digH6: number; // signed char
}

/**
 * Parses the two calibration blocks: 26 bytes from 0x88 (calib00..25) and 7 bytes from 0xE1
 * (calib26..32), per Table 16.
 */
export function parseCalibration(tp: Uint8Array, h: Uint8Array): Bme280Calibration {
  if (tp.length < CALIB_TP_LENGTH || h.length < CALIB_H_LENGTH) {
    throw new RangeError(`BME280 calibration needs ${CALIB_TP_LENGTH} + ${CALIB_H_LENGTH} bytes, got ${tp.length} + ${h.length}`);
  }
  const u16 = (bytes: Uint8Array, i: number) => bytes[i]! | (bytes[i + 1]! << 8);
  const s16 = (bytes: Uint8Array, i: number) => signed(u16(bytes, i), 16);
  const e4 = h[3]!;
  const e5 = h[4]!;
  const e6 = h[5]!;
  return {
    digT1: u16(tp, 0),
    digT2: s16(tp, 2),
    digT3: s16(tp, 4),
    digP1: u16(tp, 6),
    digP2: s16(tp, 8),
    digP3: s16(tp, 10),
    digP4: s16(tp, 12),
    digP5: s16(tp, 14),
    digP6: s16(tp, 16),
    digP7: s16(tp, 18),
    digP8: s16(tp, 20),
    digP9: s16(tp, 22),
    // 0xA0 (index 24) is not used.
    digH1: tp[25]!,
    digH2: s16(h, 0),
    digH3: h[2]!,
    // Table 16: dig_H4 is 0xE4 / 0xE5[3:0] = [11:4] / [3:0]; dig_H5 is 0xE5[7:4] / 0xE6 = [3:0] /
    // [11:4]. Both are signed: the sign comes from the byte holding bits 11:4.
    digH4: signed((e4 << 4) | (e5 & 0x0f), 12),
    digH5: signed((e6 << 4) | (e5 >> 4), 12),
    digH6: signed(h[6]!, 8),
  };
}

/** The inverse of {@link parseCalibration}: the NVM bytes a chip with these values would expose. */
export function encodeCalibration(c: Bme280Calibration): { tp: Uint8Array; h: Uint8Array } {
  const tp = new Uint8Array(CALIB_TP_LENGTH);
  const words = [c.digT1, c.digT2, c.digT3, c.digP1, c.digP2, c.digP3, c.digP4, c.digP5, c.digP6, c.digP7, c.digP8, c.digP9];
  words.forEach((word, index) => {
    tp[index * 2] = word & 0xff;
    tp[index * 2 + 1] = (word >> 8) & 0xff;
  });
  tp[25] = c.digH1 & 0xff;
  const h4 = c.digH4 & 0xfff;
  const h5 = c.digH5 & 0xfff;
  const h = Uint8Array.of(c.digH2 & 0xff, (c.digH2 >> 8) & 0xff, c.digH3 & 0xff, h4 >> 4, ((h5 & 0x0f) << 4) | (h4 & 0x0f), h5 >> 4, c.digH6 & 0xff);
  return { tp, h };
}

function signed(value: number, bits: number): number {
  const sign = 1 << (bits - 1);
  return value & sign ? value - (1 << bits) : value;
}
