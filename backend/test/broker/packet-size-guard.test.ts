import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MalformedLengthError, MqttFrameMeter, PacketSizeGuard, PacketTooLargeError } from '../../src/broker/packet-size-guard.ts';

// Hand-assembled packets (MQTT 3.1.1 §2.2 fixed header, §2.2.3 Remaining Length):
/** PINGREQ: type 12 → 0xC0, remaining length 0. */
const PINGREQ = [0xc0, 0x00];
/** PUBLISH QoS 0 "a/b" payload "hi": 0x30, length 2+3+2 = 7. */
const PUBLISH_SMALL = [0x30, 0x07, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x68, 0x69];
/** A PUBLISH header announcing 200,000 bytes: 200000 = 64 + 26·128 + 12·128² → 0xC0 0x9A 0x0C. Total 1 + 3 + 200,000. */
const PUBLISH_200K_HEADER = [0x30, 0xc0, 0x9a, 0x0c];

describe('MqttFrameMeter', () => {
  it('passes packets up to the limit, also when split at every byte', () => {
    const whole = new MqttFrameMeter(9);
    expect(whole.feed(Uint8Array.from([...PINGREQ, ...PUBLISH_SMALL, ...PINGREQ]))).toBeUndefined();
    const split = new MqttFrameMeter(9);
    for (const byte of [...PUBLISH_SMALL, ...PINGREQ, ...PUBLISH_SMALL]) expect(split.feed(Uint8Array.of(byte))).toBeUndefined();
  });

  it('reports a packet one byte over the limit with its total size', () => {
    const error = new MqttFrameMeter(8).feed(Uint8Array.from(PUBLISH_SMALL));
    expect(error).toBeInstanceOf(PacketTooLargeError);
    expect(error).toMatchObject({ packetBytes: 9, limitBytes: 8 });
  });

  it('decodes a three-byte remaining length as soon as the header is complete', () => {
    const error = new MqttFrameMeter(100_000).feed(Uint8Array.from(PUBLISH_200K_HEADER));
    expect(error).toMatchObject({ packetBytes: 200_004 });
    expect(new MqttFrameMeter(200_004).feed(Uint8Array.from(PUBLISH_200K_HEADER))).toBeUndefined();
  });

  it('refuses a remaining length of more than four bytes', () => {
    expect(new MqttFrameMeter(1e9).feed(Uint8Array.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toBeInstanceOf(MalformedLengthError);
  });
});

describe('PacketSizeGuard', () => {
  it('passes bytes through both ways and destroys the connection on an oversized packet', async () => {
    const inner = new PassThrough();
    const guard = new PacketSizeGuard(inner, 50);
    const read: Buffer[] = [];
    guard.on('data', (chunk: Buffer) => read.push(chunk));
    const failed = new Promise<Error>((resolve) => guard.once('error', resolve));

    inner.write(Buffer.from(PUBLISH_SMALL));
    await new Promise((r) => setImmediate(r));
    expect(Buffer.concat(read)).toEqual(Buffer.from(PUBLISH_SMALL));

    inner.write(Buffer.from(PUBLISH_200K_HEADER));
    expect(await failed).toBeInstanceOf(PacketTooLargeError);
    expect(inner.destroyed).toBe(true);
    expect(Buffer.concat(read)).toEqual(Buffer.from(PUBLISH_SMALL));
  });
});
