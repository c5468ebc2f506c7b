import { isIPv4, isIPv6 } from 'node:net';

/**
 * The key a remote address is throttled under. IPv4: the address itself. IPv6: its /64 prefix,
 * because one host commonly holds a whole /64 (RFC 4291 §2.5.1 interface identifiers; RFC 8981
 * temporary addresses) and would otherwise get a fresh allowance for every address it picks.
 * An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2), as a dual-stack listener
 * reports IPv4 peers, is the IPv4 address.
 */
export function addressKey(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined || remoteAddress === '') return 'unknown';
  const address = remoteAddress.split('%')[0]!.toLowerCase(); // drop an IPv6 zone id (RFC 6874)
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (mapped !== null) return mapped[1]!;
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return address;
  return `${expandIPv6(address).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address, without leading zeros. */
function expandIPv6(address: string): string[] {
  const [head, tail] = address.includes('::') ? (address.split('::') as [string, string]) : [address, undefined];
  const groups = (part: string | undefined): string[] => {
    if (part === undefined || part === '') return [];
    return part.split(':').flatMap((group) => {
      if (!group.includes('.')) return [group];
      // An embedded IPv4 address is the last 32 bits (RFC 4291 §2.2, form 3).
      const [a, b, c, d] = group.split('.').map(Number) as [number, number, number, number];
      return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
    });
  };
  const front = groups(head);
  const back = groups(tail);
  const zeros = tail === undefined ? [] : Array.from({ length: 8 - front.length - back.length }, () => '0');
  return [...front, ...zeros, ...back].map((g) => Number.parseInt(g, 16).toString(16));
}
