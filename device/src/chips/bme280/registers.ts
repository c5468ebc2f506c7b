/**
 * BME280 register map and bit fields (datasheet BST-BME280-DS002, §5.3 Table 18 and §5.4).
 * Multi-byte values are read in one burst; calibration words are little endian, ADC words big endian.
 */

/** §5.4.1: "id" reads 0x60 on every BME280 (a BMP280 reads 0x56–0x58). */
export const REG_CHIP_ID = 0xd0;
export const BME280_CHIP_ID = 0x60;

/** §5.4.2: writing 0xB6 to "reset" performs a power-on reset; other values are ignored. */
export const REG_RESET = 0xe0;
export const SOFT_RESET_COMMAND = 0xb6;

/** §5.4.3: ctrl_hum, osrs_h in bits 2:0. Only takes effect after the next ctrl_meas write. */
export const REG_CTRL_HUM = 0xf2;

/** §5.4.4: status. */
export const REG_STATUS = 0xf3;
export const STATUS_MEASURING = 1 << 3;
export const STATUS_IM_UPDATE = 1 << 0;

/** §5.4.5: ctrl_meas, osrs_t in bits 7:5, osrs_p in bits 4:2, mode in bits 1:0. */
export const REG_CTRL_MEAS = 0xf4;

/** §5.4.6: config, t_sb in bits 7:5, filter in bits 4:2, spi3w_en in bit 0. */
export const REG_CONFIG = 0xf5;

/** §5.4.7–§5.4.9: press 0xF7–0xF9, temp 0xFA–0xFC (20 bit, msb/lsb/xlsb[7:4]), hum 0xFD–0xFE (16 bit). */
export const REG_DATA = 0xf7;
export const DATA_LENGTH = 8;

/** §5.3 Table 18 / §4.2.2 Table 16: first calibration block, calib00..calib25. */
export const REG_CALIB_TP = 0x88;
export const CALIB_TP_LENGTH = 26;
/** Second calibration block, calib26..calib32 (the humidity words). */
export const REG_CALIB_H = 0xe1;
export const CALIB_H_LENGTH = 7;

/** §5.4.5 Table 25: power modes (01 and 10 are both forced mode). */
export const MODE_SLEEP = 0b00;
export const MODE_FORCED = 0b01;

/**
 * Oversampling factors and their register codes (§5.4.3 Table 20, §5.4.5 Tables 22/23). Code 0
 * skips the measurement; the driver always measures, so it never writes 0.
 */
export type Oversampling = 1 | 2 | 4 | 8 | 16;
export const OVERSAMPLING_CODE: Readonly<Record<Oversampling, number>> = { 1: 0b001, 2: 0b010, 4: 0b011, 8: 0b100, 16: 0b101 };

/** IIR filter coefficient (§3.4.4, §5.4.6 Table 28). */
export type FilterCoefficient = 'off' | 2 | 4 | 8 | 16;
export const FILTER_CODE: Readonly<Record<FilterCoefficient, number>> = { off: 0b000, 2: 0b001, 4: 0b010, 8: 0b011, 16: 0b100 };

export function ctrlHumValue(osrsH: Oversampling): number {
  return OVERSAMPLING_CODE[osrsH];
}

export function ctrlMeasValue(osrsT: Oversampling, osrsP: Oversampling, mode: number): number {
  return (OVERSAMPLING_CODE[osrsT] << 5) | (OVERSAMPLING_CODE[osrsP] << 2) | (mode & 0b11);
}

/** t_sb stays 0 (0.5 ms): standby time only matters in normal mode, which the driver does not use. */
export function configValue(filter: FilterCoefficient): number {
  return FILTER_CODE[filter] << 2;
}

/** Raw ADC words of one conversion, from the 8-byte burst at 0xF7 (§5.4.7–§5.4.9). */
export interface RawReading {
  adcP: number;
  adcT: number;
  adcH: number;
}

export function decodeData(bytes: Uint8Array): RawReading {
  const b = (i: number) => bytes[i] ?? 0;
  return {
    adcP: (b(0) << 12) | (b(1) << 4) | (b(2) >> 4),
    adcT: (b(3) << 12) | (b(4) << 4) | (b(5) >> 4),
    adcH: (b(6) << 8) | b(7),
  };
}

/**
 * The data registers' reset values (§5.3 Table 18: 0x80 0x00 0x00 for press and temp, 0x80 0x00
 * for hum). A skipped measurement leaves them there.
 */
export const ADC_RESET_20BIT = 0x80000;
export const ADC_RESET_16BIT = 0x8000;
