export * from './hardware/index.ts';
export * from './processes/index.ts';
export { createRandom, type Random } from './random.ts';
