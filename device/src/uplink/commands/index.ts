export { CommandHandler, type CommandHandlerOptions } from './command-handler.ts';
export type { CommandOutcome } from './command-outcome.ts';
export type { PublishValues } from './send-measurements.ts';
