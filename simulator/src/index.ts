export * from './hardware/index.ts';
export { createRandom, type Random } from './random.ts';
