/** One entry of the device's `measurement:values` stream: its id and its fields, all strings (docs/original-system.md §3). */
export interface StreamEntry {
  id: string;
  fields: Record<string, string>;
}

/** XRANGE's reply (id, flat field/value list) as entries. */
export function toStreamEntries(reply: ReadonlyArray<[string, string[]]>): StreamEntry[] {
  return reply.map(([id, flat]) => {
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
    return { id, fields };
  });
}

/** A stream id's parts; ids order by milliseconds, then sequence. */
export function parseStreamId(id: string): { ms: number; seq: number } {
  const [ms, seq] = id.split('-');
  return { ms: Number(ms), seq: Number(seq ?? 0) };
}

/** Orders stream ids as Redis does. */
export function compareStreamIds(a: string, b: string): number {
  const x = parseStreamId(a);
  const y = parseStreamId(b);
  return x.ms - y.ms || x.seq - y.seq;
}
