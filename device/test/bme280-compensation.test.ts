import { describe, expect, it } from 'vitest';
import { type Bme280Calibration, encodeCalibration, parseCalibration } from '../src/chips/bme280/calibration.ts';
import { compensate, compensateHumidity, compensatePressure, compensateTemperature } from '../src/chips/bme280/compensation.ts';
import { decodeData } from '../src/chips/bme280/registers.ts';
import { measurementTimeMaxMs, measurementTimeTypicalMs } from '../src/chips/bme280/timing.ts';

/**
 * Bosch's worked example (BMP280 datasheet BST-BMP280-DS001 §3.12; the BME280 shares the
 * temperature and pressure formulas). Humidity values are typical of real chips: Bosch publishes no
 * humidity example.
 */
const EXAMPLE: Bme280Calibration = {
  digT1: 27504,
  digT2: 26435,
  digT3: -1000,
  digP1: 36477,
  digP2: -10685,
  digP3: 3024,
  digP4: 2855,
  digP5: 140,
  digP6: -7,
  digP7: 15500,
  digP8: -14600,
  digP9: 6000,
  digH1: 75,
  digH2: 362,
  digH3: 0,
  digH4: 313,
  digH5: 50,
  digH6: 30,
};

describe('BME280 integer compensation', () => {
  it('gives the datasheet example temperature: adc_T 519888 → t_fine 128422, 25.08 °C', () => {
    expect(compensateTemperature(519888, EXAMPLE)).toEqual({ centiCelsius: 2508, tFine: 128422 });
  });

  it('gives the datasheet example pressure: adc_P 415148 → 100653.27 Pa', () => {
    const q24_8 = compensatePressure(415148, 128422, EXAMPLE);
    // The example's figure prints 25767236 next to the double-precision result 100653.27 Pa; the
    // published 64-bit code itself yields 25767233 (100653.254 Pa), as other ports of it also find.
    expect(q24_8).toBe(25767233);
    expect(q24_8 / 256).toBeCloseTo(100653.27, 1);
  });

  it('gives humidity matching the datasheet double-precision formula (§8.1), within the Q22.10 step', () => {
    const tFine = 128422;
    for (const adcH of [25000, 28000, 30000, 33000, 36000]) {
      // §8.1 bme280_compensate_H_double, evaluated by hand-transcription here.
      const x = tFine - 76800;
      let h = (adcH - (313 * 64 + (50 / 16384) * x)) * ((362 / 65536) * (1 + (30 / 67108864) * x * (1 + 0)));
      h = h * (1 - (75 * h) / 524288);
      expect(compensateHumidity(adcH, tFine, EXAMPLE) / 1024).toBeCloseTo(Math.min(100, Math.max(0, h)), 2);
    }
  });

  it('clamps humidity to 0 and 100 %RH (Q22.10 0 and 102400)', () => {
    expect(compensateHumidity(0, 128422, EXAMPLE)).toBe(0);
    expect(compensateHumidity(0xffff, 128422, EXAMPLE)).toBe(100 * 1024);
  });

  it('returns 0 Pa rather than dividing by zero when dig_P1 is 0', () => {
    expect(compensatePressure(415148, 128422, { ...EXAMPLE, digP1: 0 })).toBe(0);
  });

  it('compensates a whole reading in stream units', () => {
    const reading = compensate({ adcT: 519888, adcP: 415148, adcH: 30000 }, EXAMPLE);
    expect(reading.temperatureCelsius).toBe(25.08);
    expect(reading.pressureHpa).toBeCloseTo(1006.5327, 3);
  });
});

describe('BME280 calibration bytes (datasheet Table 16)', () => {
  // Hand-built: T1 0x6B70 = 27504, T2 0x6743 = 26435, T3 0xFC18 = -1000, P1 0x8E7D = 36477,
  // P2 0xD643 = -10685, P3 0x0BD0 = 3024, P4 0x0B27 = 2855, P5 0x008C = 140, P6 0xFFF9 = -7,
  // P7 0x3C8C = 15500, P8 0xC6F8 = -14600, P9 0x1770 = 6000, 0xA0 unused, H1 0x4B = 75.
  const tp = Uint8Array.of(
    0x70, 0x6b, 0x43, 0x67, 0x18, 0xfc, 0x7d, 0x8e, 0x43, 0xd6, 0xd0, 0x0b, 0x27, 0x0b, 0x8c, 0x00,
    0xf9, 0xff, 0x8c, 0x3c, 0xf8, 0xc6, 0x70, 0x17, 0xaa, 0x4b,
  );
  // H2 0xFE98 = -360, H3 0xC8 = 200 (unsigned), E4 0xEC, E5 0xA7, E6 0xF9, H6 0xE2 = -30.
  // H4 = 0xEC << 4 | 0x7 = 0xEC7 → 12-bit signed -313; H5 = 0xF9 << 4 | 0xA = 0xF9A → -102.
  const h = Uint8Array.of(0x98, 0xfe, 0xc8, 0xec, 0xa7, 0xf9, 0xe2);

  it('parses every parameter with its signedness, incl. the packed 12-bit H4 and H5', () => {
    expect(parseCalibration(tp, h)).toEqual({
      ...EXAMPLE,
      digH1: 75,
      digH2: -360,
      digH3: 200,
      digH4: -313,
      digH5: -102,
      digH6: -30,
    });
  });

  it('parses positive H4 and H5 from the same nibble layout', () => {
    // H4 = 0x13 << 4 | 0x9 = 313; H5 = 0x03 << 4 | 0x2 = 50.
    const positive = parseCalibration(tp, Uint8Array.of(0x6a, 0x01, 0x00, 0x13, 0x29, 0x03, 0x1e));
    expect([positive.digH2, positive.digH4, positive.digH5, positive.digH6]).toEqual([362, 313, 50, 30]);
  });

  it('encodes back to the same bytes (0xA0 aside, which is unused)', () => {
    const encoded = encodeCalibration(parseCalibration(tp, h));
    expect(Array.from(encoded.h)).toEqual(Array.from(h));
    expect([...encoded.tp.subarray(0, 24), encoded.tp[25]]).toEqual([...tp.subarray(0, 24), tp[25]]);
  });

  it('rejects short blocks', () => {
    expect(() => parseCalibration(tp.subarray(0, 24), h)).toThrow(RangeError);
  });
});

describe('BME280 data and timing', () => {
  it('decodes the 20-bit press/temp and 16-bit hum words of the 0xF7 burst (§5.4.7–§5.4.9)', () => {
    // adc_P 415148 = 0x655AC, adc_T 519888 = 0x7EED0, adc_H 0x6F2A.
    expect(decodeData(Uint8Array.of(0x65, 0x5a, 0xc0, 0x7e, 0xed, 0x00, 0x6f, 0x2a))).toEqual({ adcP: 415148, adcT: 519888, adcH: 0x6f2a });
  });

  it('computes the Appendix B §9.1 measurement times', () => {
    // All ×1: 1 + 2 + 2.5 + 2.5 = 8 ms typical; 1.25 + 2.3 + 2.875 + 2.875 = 9.3 ms max.
    expect(measurementTimeTypicalMs(1, 1, 1)).toBe(8);
    expect(measurementTimeMaxMs(1, 1, 1)).toBeCloseTo(9.3, 9);
    // All ×16: 1 + 32 + 32.5 + 32.5 = 98 ms typical; 1.25 + 36.8 + 37.375 · 2 = 112.8 ms max.
    expect(measurementTimeTypicalMs(16, 16, 16)).toBe(98);
    expect(measurementTimeMaxMs(16, 16, 16)).toBeCloseTo(112.8, 9);
  });
});
