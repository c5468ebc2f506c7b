export * from './csv-replay.ts';
export * from './curves.ts';
export * from './environment.ts';
export { environmentFromSpec } from './environment-spec.ts';
