export { Bme280Model } from './bme280-model.ts';
export { Sht31Model } from './sht31-model.ts';
export type { ChipModelOptions, ChipModelFault } from './chip-model.ts';
export type { Bme280Trimming } from './bme280-adc.ts';
