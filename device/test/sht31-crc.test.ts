import { describe, expect, it } from 'vitest';
import { commandBytes } from '../src/chips/sht31/commands.ts';
import { sht3xCrc8 } from '../src/chips/sht31/crc8.ts';
import { humidityPercentFromRaw, temperatureCelsiusFromRaw } from '../src/chips/sht31/driver.ts';

describe('SHT3x CRC-8 (datasheet §4.12, Table 19)', () => {
  it('matches the datasheet test vector CRC(0xBEEF) = 0x92', () => {
    expect(sht3xCrc8([0xbe, 0xef])).toBe(0x92);
  });

  it('gives 0x81 for a zero word, the checksum of an all-clear status register', () => {
    // Second byte by hand from 0xAC: 69 D2 95 1B 36 6C D8 81.
    expect(sht3xCrc8([0x00, 0x00])).toBe(0x81);
  });

  it('starts from 0xFF: one 0x00 byte gives 0xAC, one 0xFF byte cancels the init to 0x00', () => {
    // 0xFF shifted eight times with poly 0x31, worked by hand: CF AF 6F DE 8D 2B 56 AC.
    expect(sht3xCrc8([0x00])).toBe(0xac);
    expect(sht3xCrc8([0xff])).toBe(0x00);
  });

  it('leaves a zero remainder when a word is followed by its own CRC (no reflection, no final XOR)', () => {
    for (const word of [0x0000, 0x1234, 0x6666, 0xbeef, 0xffff]) {
      const msb = word >> 8;
      const lsb = word & 0xff;
      expect(sht3xCrc8([msb, lsb, sht3xCrc8([msb, lsb])])).toBe(0);
    }
  });

  it('detects a single flipped bit', () => {
    expect(sht3xCrc8([0xbe, 0xee])).not.toBe(0x92);
  });
});

describe('SHT3x conversion (datasheet §4.13)', () => {
  it('converts raw 0x6666 (26214) to 25 °C and 40 %RH', () => {
    // 175 * 26214 / 65535 = 70 exactly, since 26214 = 0.4 * 65535.
    expect(temperatureCelsiusFromRaw(0x6666)).toBeCloseTo(-45 + 70, 10);
    expect(humidityPercentFromRaw(0x6666)).toBeCloseTo(40, 10);
  });

  it('maps the ends of the raw range to -45..130 °C and 0..100 %RH', () => {
    expect(temperatureCelsiusFromRaw(0)).toBe(-45);
    expect(temperatureCelsiusFromRaw(0xffff)).toBe(130);
    expect(humidityPercentFromRaw(0)).toBe(0);
    expect(humidityPercentFromRaw(0xffff)).toBe(100);
  });

  it('converts the datasheet CRC example word 0xBEEF (48879)', () => {
    // 48879 / 65535 = 0.745846...: 175 * that - 45 = 85.5230..., 100 * that = 74.5846...
    expect(temperatureCelsiusFromRaw(0xbeef)).toBeCloseTo(85.523, 3);
    expect(humidityPercentFromRaw(0xbeef)).toBeCloseTo(74.5846, 4);
  });
});

describe('SHT3x commands (datasheet §4.3)', () => {
  it('sends 16-bit commands MSB first', () => {
    expect([...commandBytes(0x2400)]).toEqual([0x24, 0x00]);
    expect([...commandBytes(0x30a2)]).toEqual([0x30, 0xa2]);
  });
});
