/**
 * A 3.1.1 CONNECT packet by hand (MQTT 3.1.1 §3.1), for what a client library will not send
 * (an empty client id with CleanSession 0) or sends too slowly (a password flood): username and
 * password set, keep-alive 60 s.
 */
export function connectPacket(connect: { clientId: string; username: string; password: string; clean?: boolean }): Buffer {
  const field = (text: string) => {
    const bytes = Buffer.from(text, 'utf8');
    const length = Buffer.alloc(2);
    length.writeUInt16BE(bytes.length);
    return Buffer.concat([length, bytes]);
  };
  // Connect flags (§3.1.2.2): user name 0x80, password 0x40, CleanSession 0x02.
  const flags = 0xc0 | (connect.clean === false ? 0 : 0x02);
  const body = Buffer.concat([field('MQTT'), Buffer.from([4, flags, 0, 60]), field(connect.clientId), field(connect.username), field(connect.password)]);
  // Remaining Length, 7 bits a byte, least significant first (§2.2.3).
  const remaining: number[] = [];
  let n = body.length;
  do {
    remaining.push((n % 128) | (n >= 128 ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return Buffer.concat([Buffer.from([0x10, ...remaining]), body]);
}
