import { Duplex } from 'node:stream';

export class PacketTooLargeError extends Error {
  readonly packetBytes: number;
  readonly limitBytes: number;
  constructor(packetBytes: number, limitBytes: number) {
    super(`MQTT packet of ${packetBytes} bytes exceeds the limit of ${limitBytes} bytes`);
    this.name = 'PacketTooLargeError';
    this.packetBytes = packetBytes;
    this.limitBytes = limitBytes;
  }
}

export class MalformedLengthError extends Error {
  constructor() {
    super('MQTT Remaining Length longer than 4 bytes');
    this.name = 'MalformedLengthError';
  }
}

/**
 * Reads MQTT fixed headers as bytes pass and reports the first packet that is too large, before
 * its body arrives. aedes parses a whole packet into memory before any hook sees it, so without
 * this a client (even one that never authenticated) could make the broker buffer up to 256 MB.
 *
 * Fixed header (3.1.1 §2.2, 5.0 §2.1.1): one type/flags byte, then the Remaining Length as a
 * Variable Byte Integer of 1–4 bytes, 7 bits each, least significant first, high bit = "more"
 * (3.1.1 §2.2.3, 5.0 §1.5.5).
 */
export class MqttFrameMeter {
  private readonly limitBytes: number;
  /** Bytes of the current packet's body still to pass; -1 while reading a fixed header. */
  private bodyLeft = -1;
  private headerBytes = 0;
  private length = 0;
  private multiplier = 1;

  constructor(limitBytes: number) {
    this.limitBytes = limitBytes;
  }

  /** Feeds bytes in order; returns an error for the first offending packet, else undefined. */
  feed(chunk: Uint8Array): Error | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.bodyLeft > 0) {
        const skip = Math.min(this.bodyLeft, chunk.length - i);
        this.bodyLeft -= skip;
        i += skip;
        continue;
      }
      const byte = chunk[i++]!;
      if (this.headerBytes === 0) {
        this.headerBytes = 1; // type and flags
        this.length = 0;
        this.multiplier = 1;
        continue;
      }
      this.headerBytes++;
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      if ((byte & 0x80) !== 0) {
        if (this.headerBytes > 4) return new MalformedLengthError(); // a 5th length byte is malformed
        continue;
      }
      const total = this.headerBytes + this.length;
      if (total > this.limitBytes) return new PacketTooLargeError(total, this.limitBytes);
      this.bodyLeft = this.length;
      this.headerBytes = 0;
    }
    return undefined;
  }
}

/**
 * Wraps a connection so that reads pass a {@link MqttFrameMeter}; an oversized packet destroys
 * the connection with a {@link PacketTooLargeError} (Mosquitto does the same for
 * `max_packet_size`; MQTT 5.0 §3.1.2.11.4 lets a server close the connection).
 */
export class PacketSizeGuard extends Duplex {
  private readonly inner: Duplex;
  private readonly meter: MqttFrameMeter;

  constructor(inner: Duplex, limitBytes: number) {
    super({ allowHalfOpen: false });
    this.inner = inner;
    this.meter = new MqttFrameMeter(limitBytes);
    inner.on('data', (chunk: Buffer) => {
      const problem = this.meter.feed(chunk);
      if (problem !== undefined) {
        this.destroy(problem);
        return;
      }
      if (!this.push(chunk)) inner.pause();
    });
    inner.once('end', () => this.push(null));
    inner.once('error', (error) => this.destroy(error));
    inner.once('close', () => this.destroy());
    inner.pause();
  }

  override _read(): void {
    this.inner.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.inner.destroyed) callback(new Error('connection closed'));
    else this.inner.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.inner.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.inner.destroy();
    callback(error);
  }
}
