import type { CommandResponse } from '@iot/common/protocol';

/**
 * What handling one command produced: the answer to publish on the response topic and, for
 * reboot, the action to run once that answer is out (a device that reboots first never answers).
 */
export interface CommandOutcome {
  response: CommandResponse;
  /** Run after the response was published. Never rejects: failures are logged. */
  afterResponse?: () => Promise<void>;
}
