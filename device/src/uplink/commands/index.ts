export { CommandRefusal } from './command-errors.ts';
export { CommandHandler, type CommandHandlerOptions, DEFAULT_REBOOT_DELAY_MS, REMEMBERED_COMMAND_IDS } from './command-handler.ts';
export type { CommandOutcome } from './command-outcome.ts';
export { parseCommand } from './parse-command.ts';
export { DEFAULT_SEND_COUNT, type DeviceMeta, MAX_SEND_COUNT, type PublishValues, originalReading } from './send-measurements.ts';
