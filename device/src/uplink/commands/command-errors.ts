import type { CommandErrorCode } from '@iot/common/protocol';
import { ReplyError } from 'ioredis';

/** A command refused for a reason its sender can act on; becomes `{ ok: false, error }` in the answer. */
export class CommandRefusal extends Error {
  readonly code: CommandErrorCode;

  constructor(code: CommandErrorCode, message: string) {
    super(message);
    this.name = 'CommandRefusal';
    this.code = code;
  }
}

/**
 * Redis replies that mean "this Redis cannot serve you right now" rather than "this command is
 * wrong": still loading its AOF, out of memory under `noeviction`, refusing writes after a failed
 * save, or a replica.
 */
const UNAVAILABLE_REPLIES = /^(LOADING|BUSY|OOM|MISCONF|READONLY|MASTERDOWN|TRYAGAIN)\b/;

/**
 * Turns any failure into an answer's error. Device Redis clients fail fast while Redis is down
 * (redis-connection.ts), so a failure that is not a Redis reply means Redis was not reachable.
 */
export function describeFailure(error: unknown): { code: CommandErrorCode; message: string } {
  if (error instanceof CommandRefusal) return { code: error.code, message: error.message };
  const text = error instanceof Error ? error.message : String(error);
  if (error instanceof ReplyError) {
    if (UNAVAILABLE_REPLIES.test(text)) return { code: 'redis_unavailable', message: `the device's Redis cannot serve the command now: ${text}` };
    return { code: 'internal', message: `the device's Redis refused the command: ${text}` };
  }
  if (error instanceof Error) {
    return { code: 'redis_unavailable', message: `the device's Redis is not reachable (${text}); retry when the device reports it is healthy` };
  }
  return { code: 'internal', message: text };
}

/** Failures that may pass when the same command is sent again, so their answers are not remembered. */
export function isTransient(code: string | undefined): boolean {
  return code === 'redis_unavailable' || code === 'internal';
}
