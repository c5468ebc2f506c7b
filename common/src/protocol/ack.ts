import { type Ack, ack, MAX_PAYLOAD_BYTES, PROTOCOL_VERSION } from './messages.ts';
import { decodeJsonPayload } from './payload.ts';
import type { Decoded } from './rejection.ts';

/**
 * The acknowledgement of a committed batch (docs/protocol.md §5): the receiver encodes it after
 * the commit, the uplink decodes it before it may move its cursor.
 */
export function encodeAck(fields: Omit<Ack, 'v'>): string {
  const message: Ack = { v: PROTOCOL_VERSION, ...fields };
  return JSON.stringify(message);
}

/** Reads an ack payload; a bad one is rejected with why, and must move nothing. */
export function decodeAck(payload: Buffer, maxBytes: number = MAX_PAYLOAD_BYTES): Decoded<Ack> {
  return decodeJsonPayload(ack, payload, maxBytes);
}
