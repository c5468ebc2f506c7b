/**
 * Fatal UTF-8 decoding of payloads. Buffer#toString turns invalid bytes into U+FFFD silently, so a
 * name or a value would be stored other than it was sent; here they are a rejection instead. A
 * byte-order mark is kept (ignoreBOM), so JSON.parse refuses it as it always did.
 */
const FATAL = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The text, or where the first invalid sequence starts (for the rejection's detail). */
export function decodeUtf8(bytes: Uint8Array): string | { invalidAt: number } {
  try {
    return FATAL.decode(bytes);
  } catch {
    return { invalidAt: firstInvalidSequence(bytes) };
  }
}

function firstInvalidSequence(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const length = sequenceLength(bytes, i);
    if (length === 0) return i;
    i += length;
  }
  return i;
}

/** Length of the well-formed sequence at `i` (RFC 3629 §4; no surrogates, nothing past U+10FFFF), 0 if none. */
function sequenceLength(bytes: Uint8Array, i: number): number {
  const lead = bytes[i]!;
  const follows = (k: number, low = 0x80, high = 0xbf) => i + k < bytes.length && bytes[i + k]! >= low && bytes[i + k]! <= high;
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return follows(1) ? 2 : 0;
  if (lead >= 0xe0 && lead <= 0xef) {
    const ok = follows(1, lead === 0xe0 ? 0xa0 : 0x80, lead === 0xed ? 0x9f : 0xbf) && follows(2);
    return ok ? 3 : 0;
  }
  if (lead >= 0xf0 && lead <= 0xf4) {
    const ok = follows(1, lead === 0xf0 ? 0x90 : 0x80, lead === 0xf4 ? 0x8f : 0xbf) && follows(2) && follows(3);
    return ok ? 4 : 0;
  }
  return 0;
}
