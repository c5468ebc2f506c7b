/**
 * A short, printable excerpt of something a device sent, for a rejection's record. It never
 * throws, whatever the value: a cyclic or absurdly deep value (JSON.stringify overflows the stack
 * a few thousand levels down) becomes a description instead of an exception, because an
 * exception on this path once turned one bad entry into a "database down" for every device.
 */
export function excerptOf(value: unknown, maxChars: number): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch (error) {
    text = `(not serialisable: ${error instanceof Error ? error.message : String(error)})`;
  }
  return text.length <= maxChars ? text : `${text.slice(0, Math.max(0, maxChars - 1))}…`;
}
