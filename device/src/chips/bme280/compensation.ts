import type { Bme280Calibration } from './calibration.ts';

/*
 * The datasheet's integer compensation (BST-BME280-DS002 §4.2.3, the 64-bit pressure variant
 * included), kept line for line so it can be checked against the C original. The 32-bit routines
 * use Math.imul and `| 0` so that products and sums wrap exactly as BME280_S32_t does; the 64-bit
 * pressure routine uses BigInt, whose `>>` floors and `/` truncates like C's on signed values.
 */

const mul = Math.imul;

export interface TemperatureResult {
  /** Temperature in 0.01 °C ("5123" is 51.23 °C). */
  centiCelsius: number;
  /** The fine temperature that pressure and humidity compensation need. */
  tFine: number;
}

/** BME280_compensate_T_int32 (§4.2.3). */
export function compensateTemperature(adcT: number, c: Bme280Calibration): TemperatureResult {
  const var1 = mul(((adcT >> 3) - (c.digT1 << 1)) | 0, c.digT2) >> 11;
  const d = ((adcT >> 4) - c.digT1) | 0;
  const var2 = mul(mul(d, d) >> 12, c.digT3) >> 14;
  const tFine = (var1 + var2) | 0;
  return { centiCelsius: (mul(tFine, 5) + 128) >> 8, tFine };
}

/**
 * BME280_compensate_P_int64 (§4.2.3): pressure in Pa as Q24.8 ("24674867" is 24674867 / 256 =
 * 96386.2 Pa). Returns 0 where the C code does (dig_P1 = 0, which would divide by zero).
 */
export function compensatePressure(adcP: number, tFine: number, c: Bme280Calibration): number {
  const P = (value: number) => BigInt(value);
  let var1 = P(tFine) - 128000n;
  let var2 = var1 * var1 * P(c.digP6);
  var2 = var2 + ((var1 * P(c.digP5)) << 17n);
  var2 = var2 + (P(c.digP4) << 35n);
  var1 = ((var1 * var1 * P(c.digP3)) >> 8n) + ((var1 * P(c.digP2)) << 12n);
  var1 = (((1n << 47n) + var1) * P(c.digP1)) >> 33n;
  if (var1 === 0n) return 0;
  let p = 1048576n - P(adcP);
  p = (((p << 31n) - var2) * 3125n) / var1;
  var1 = (P(c.digP9) * (p >> 13n) * (p >> 13n)) >> 25n;
  var2 = (P(c.digP8) * p) >> 19n;
  p = ((p + var1 + var2) >> 8n) + (P(c.digP7) << 4n);
  // The C original returns it as BME280_U32_t.
  return Number(BigInt.asUintN(32, p));
}

/**
 * bme280_compensate_H_int32 (§4.2.3): relative humidity in %RH as Q22.10 ("47445" is
 * 47445 / 1024 = 46.333 %RH), clamped by the formula itself to 0..100 %RH.
 */
export function compensateHumidity(adcH: number, tFine: number, c: Bme280Calibration): number {
  let v = (tFine - 76800) | 0;
  const left = ((((adcH << 14) - (c.digH4 << 20) - mul(c.digH5, v)) | 0) + 16384) >> 15;
  const inner = ((mul(mul(v, c.digH6) >> 10, ((mul(v, c.digH3) >> 11) + 32768) | 0) >> 10) + 2097152) | 0;
  const right = (mul(inner, c.digH2) + 8192) >> 14;
  v = mul(left, right);
  v = (v - (mul(mul(v >> 15, v >> 15) >> 7, c.digH1) >> 4)) | 0;
  // Clamp to 0..100 %RH (419430400 = 100 << 22).
  return Math.min(Math.max(v, 0), 419430400) >> 12;
}

/** Physical values of one conversion, in the units the stream carries. */
export interface CompensatedReading {
  temperatureCelsius: number;
  pressureHpa: number;
  humidityPercent: number;
}

/** Compensates all three raw words of one conversion (temperature first: the others need t_fine). */
export function compensate(raw: { adcT: number; adcP: number; adcH: number }, c: Bme280Calibration): CompensatedReading {
  const t = compensateTemperature(raw.adcT, c);
  return {
    temperatureCelsius: t.centiCelsius / 100,
    pressureHpa: compensatePressure(raw.adcP, t.tFine, c) / 256 / 100,
    humidityPercent: compensateHumidity(raw.adcH, t.tFine, c) / 1024,
  };
}
