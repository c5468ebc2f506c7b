import type { Conditions } from '../environment/environment.ts';

/*
 * The physics side of the BME280 twin: which raw ADC words a chip with given trimming values
 * outputs for given conditions. The model keeps its own copy of the datasheet's numbers rather than
 * importing the driver's: a twin that shares the driver's code would agree with the driver's
 * mistakes. It inverts the double-precision compensation (datasheet BST-BME280-DS002 §8.1), while
 * the driver uses the integer one (§4.2.3); both are Bosch's, so they agree to well within
 * the chip's resolution.
 */

/** Trimming parameters as named in datasheet §4.2.2 Table 16. */
export interface Bme280Trimming {
  digT1: number;
  digT2: number;
  digT3: number;
  digP1: number;
  digP2: number;
  digP3: number;
  digP4: number;
  digP5: number;
  digP6: number;
  digP7: number;
  digP8: number;
  digP9: number;
  digH1: number;
  digH2: number;
  digH3: number;
  digH4: number;
  digH5: number;
  digH6: number;
}

/**
 * Values of the kind real chips carry (deliberately not the datasheet's worked example, so tests
 * cannot pass on constants that happen to match).
 */
export const TYPICAL_TRIMMING: Readonly<Bme280Trimming> = {
  digT1: 28485,
  digT2: 26735,
  digT3: 50,
  digP1: 36738,
  digP2: -10635,
  digP3: 3024,
  digP4: 6980,
  digP5: -4,
  digP6: -7,
  digP7: 9900,
  digP8: -10230,
  digP9: 4285,
  digH1: 75,
  digH2: 362,
  digH3: 0,
  digH4: 313,
  digH5: 50,
  digH6: 30,
};

/** The NVM image of Table 16: 26 bytes at 0x88 and 7 bytes at 0xE1. */
export function trimmingBytes(c: Bme280Trimming): { at0x88: number[]; at0xE1: number[] } {
  const le = (word: number) => [word & 0xff, (word >> 8) & 0xff];
  const at0x88 = [c.digT1, c.digT2, c.digT3, c.digP1, c.digP2, c.digP3, c.digP4, c.digP5, c.digP6, c.digP7, c.digP8, c.digP9].flatMap(le);
  at0x88.push(0x00, c.digH1 & 0xff); // 0xA0 is unused
  const h4 = c.digH4 & 0xfff; // 12-bit two's complement
  const h5 = c.digH5 & 0xfff;
  const at0xE1 = [...le(c.digH2), c.digH3 & 0xff, h4 >> 4, ((h5 & 0xf) << 4) | (h4 & 0xf), h5 >> 4, c.digH6 & 0xff];
  return { at0x88, at0xE1 };
}

/** §8.1 bme280_compensate_T_double, returning t_fine (°C = t_fine / 5120). */
export function tFineOf(adcT: number, c: Bme280Trimming): number {
  const var1 = (adcT / 16384 - c.digT1 / 1024) * c.digT2;
  const d = adcT / 131072 - c.digT1 / 8192;
  return var1 + d * d * c.digT3;
}

/** §8.1 bme280_compensate_P_double, in Pa. */
export function pressurePaOf(adcP: number, tFine: number, c: Bme280Trimming): number {
  let var1 = tFine / 2 - 64000;
  let var2 = (var1 * var1 * c.digP6) / 32768;
  var2 = var2 + var1 * c.digP5 * 2;
  var2 = var2 / 4 + c.digP4 * 65536;
  var1 = ((c.digP3 * var1 * var1) / 524288 + c.digP2 * var1) / 524288;
  var1 = (1 + var1 / 32768) * c.digP1;
  if (var1 === 0) return 0;
  let p = 1048576 - adcP;
  p = ((p - var2 / 4096) * 6250) / var1;
  return p + ((c.digP9 * p * p) / 2147483648 + (p * c.digP8) / 32768 + c.digP7) / 16;
}

/** §8.1 bme280_compensate_H_double, in %RH (clamped to 0..100 as there). */
export function humidityPercentOf(adcH: number, tFine: number, c: Bme280Trimming): number {
  const x = tFine - 76800;
  let h = (adcH - (c.digH4 * 64 + (c.digH5 / 16384) * x)) * ((c.digH2 / 65536) * (1 + (c.digH6 / 67108864) * x * (1 + (c.digH3 / 67108864) * x)));
  h = h * (1 - (c.digH1 * h) / 524288);
  return Math.min(100, Math.max(0, h));
}

/**
 * Continuous raw values (not yet quantised) that the compensation maps to `conditions`, found by
 * bisection: every formula above is monotonic in its ADC word over the ADC's range. Conditions
 * beyond what the ADC can express pin to the end of its range, as a saturated ADC would.
 */
export function idealAdc(conditions: Conditions, c: Bme280Trimming): { adcT: number; adcP: number; adcH: number } {
  const adcT = bisect((x) => tFineOf(x, c) / 5120, conditions.temperatureCelsius, 0xfffff);
  const tFine = tFineOf(adcT, c);
  // Pressure falls as adc_P rises (p = 1048576 - adc_P in §8.1).
  const adcP = bisect((x) => -pressurePaOf(x, tFine, c), -conditions.pressureHpa * 100, 0xfffff);
  const adcH = bisect((x) => humidityPercentOf(x, tFine, c), conditions.humidityPercent, 0xffff);
  return { adcT, adcP, adcH };
}

/** The smallest x in [0, max] with f(x) ≥ target, for non-decreasing f, to far below one LSB. */
function bisect(f: (x: number) => number, target: number, max: number): number {
  let lo = 0;
  let hi = max;
  if (f(lo) >= target) return lo;
  if (f(hi) < target) return hi;
  for (let i = 0; i < 48; i++) {
    const mid = (lo + hi) / 2;
    if (f(mid) >= target) hi = mid;
    else lo = mid;
  }
  return hi;
}
