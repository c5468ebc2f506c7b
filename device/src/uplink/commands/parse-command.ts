import { type Command, type CommandResponse, command as commandSchema, MAX_PAYLOAD_BYTES, PROTOCOL_VERSION } from '@iot/common/protocol';

export type ParsedCommand = { ok: true; command: Command } | { ok: false; response: CommandResponse };

/**
 * Reads a command payload (docs/security.md §5: every inbound payload is validated). A payload that is
 * not a valid command becomes an `invalid_command` answer that still quotes the sender's `id` and
 * `command` when they are readable, so the sender can tell which of its commands failed.
 */
export function parseCommand(payload: Buffer): ParsedCommand {
  if (payload.length > MAX_PAYLOAD_BYTES) {
    return invalid(undefined, `payload of ${payload.length} bytes exceeds the ${MAX_PAYLOAD_BYTES}-byte limit`);
  }
  let data: unknown;
  try {
    data = JSON.parse(payload.toString('utf8'));
  } catch (error) {
    return invalid(undefined, `payload is not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return invalid(undefined, `payload must be a JSON object like {"command":"get_config","key":"measurement:interval"}, got ${Array.isArray(data) ? 'an array' : typeof data === 'object' ? 'null' : `a ${typeof data}`}`);
  }
  const result = commandSchema.safeParse(data);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : 'payload'}: ${issue.message}`).join('; ');
    return invalid(data as Record<string, unknown>, `not a valid command: ${problems}`);
  }
  return { ok: true, command: result.data };
}

function invalid(data: Record<string, unknown> | undefined, message: string): ParsedCommand {
  const id = readable(data?.id, 100);
  const name = readable(data?.command, 50)?.toLowerCase() ?? 'unknown';
  return {
    ok: false,
    response: { v: PROTOCOL_VERSION, ...(id === undefined ? {} : { id }), command: name, ok: false, error: { code: 'invalid_command', message } },
  };
}

function readable(value: unknown, maxLength: number): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= maxLength ? value : undefined;
}
