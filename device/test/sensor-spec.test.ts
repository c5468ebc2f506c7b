import { describe, expect, it } from 'vitest';
import { fieldNames, parseSensorSpecs } from '../src/chips/sensor-spec.ts';

describe('SENSORS', () => {
  it('parses kinds, hex or decimal addresses, defaults and names', () => {
    expect(parseSensorSpecs('bme280, sht31@0x45:outdoor, bme280@119:attic')).toEqual({
      specs: [
        { kind: 'bme280', address: 0x76 },
        { kind: 'sht31', address: 0x45, name: 'outdoor' },
        { kind: 'bme280', address: 0x77, name: 'attic' },
      ],
      problems: [],
    });
    expect(parseSensorSpecs('none')).toEqual({ specs: [], problems: [] });
  });

  it('names each chip field, prefixed when the chip has a name', () => {
    expect(fieldNames({ kind: 'sht31', address: 0x44, name: 'outdoor' })).toEqual(['outdoor_temperature_celsius', 'outdoor_humidity_percent']);
  });

  it('reports every problem: syntax, unknown chip, wrong address, shared address, clashing fields', () => {
    const { problems } = parseSensorSpecs('bme280@0x76,dht22,sht31@0x50,bme280@0x76:b,sht31,bme 280');
    expect(problems).toEqual([
      '"dht22": unknown chip "dht22"; known: bme280, sht31',
      '"sht31@0x50": a sht31 answers only at 0x44 or 0x45',
      '"bme 280" is not kind[@address][:name], e.g. bme280@0x76 or sht31@0x44:outdoor',
      'two sensors at 0x76; each chip needs its own address',
      'sht31@0x44 and bme280@0x76 both write "temperature_celsius"; name one of them, e.g. sht31@0x44:outdoor',
      'sht31@0x44 and bme280@0x76 both write "humidity_percent"; name one of them, e.g. sht31@0x44:outdoor',
    ]);
  });
});
