/**
 * Reading identity (docs/delivery-guarantee.md §6): a stream id or a Redis-kept counter can be issued again after a
 * power cut rolls Redis back, or after a boot with a clock behind. A reading is therefore identified
 * by (device, boot id, sequence within that boot): the boot id is drawn at random on every sensor
 * start and the sequence counts from 1 within it.
 */
export interface ReadingIdentity {
  bootId: string;
  seq: number;
}

/** A boot id: 16 lowercase hex characters (64 random bits). */
export const BOOT_ID_PATTERN = /^[0-9a-f]{16}$/;

export function isBootId(text: unknown): text is string {
  return typeof text === 'string' && BOOT_ID_PATTERN.test(text);
}

/**
 * The unique key of a reading within its device: `<boot id>:<seq>`, or for an original reading
 * without identity `s:<stream id>`, the only thing such a reading has. `s` is no hex digit, so the
 * two kinds never collide.
 */
export function readingKey(reading: { bootId: string | null; seq: number | null; streamId: string }): string {
  return reading.bootId !== null && reading.seq !== null ? `${reading.bootId}:${reading.seq}` : `s:${reading.streamId}`;
}
