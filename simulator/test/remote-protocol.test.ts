import { connect, type Socket } from 'node:net';
import { GpioError, HardwareError, I2cNackError } from '@iot/hardware';
import { eventually } from '@iot/harness/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createRemoteHardware, type RemoteHardware, RemoteHardwareServer, type RemoteHardwareServerOptions, SimulatedFleet } from '../src/remote/index.ts';

/**
 * What a broken or hostile client can do to the simulator's remote hardware server, over real TCP
 * on loopback: each case gets a clear error or is dropped, and the server goes on serving others.
 */
describe('remote hardware protocol robustness', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function serve(options: Partial<RemoteHardwareServerOptions> & { maxDevices?: number } = {}) {
    const fleet = new SimulatedFleet({
      chips: [{ kind: 'bme280', busNumber: 1, address: 0x76 }],
      ...(options.maxDevices === undefined ? {} : { maxDevices: options.maxDevices }),
    });
    const server = await RemoteHardwareServer.listen({ ...options, fleet });
    cleanup.push(() => fleet.close(), () => server.close());
    return { fleet, server, port: server.port };
  }

  async function client(port: number, device: string): Promise<RemoteHardware> {
    const hardware = await createRemoteHardware({ host: '127.0.0.1', port, device, connectTimeoutMs: 2_000 });
    cleanup.push(() => hardware.close());
    return hardware;
  }

  async function raw(port: number): Promise<RawClient> {
    const peer = await RawClient.connect(port);
    cleanup.push(() => peer.destroy());
    return peer;
  }

  /** A well-behaved client still gets full service: the chip id of its BME280 reads 0x60. */
  async function stillServes(port: number): Promise<void> {
    const hardware = await client(port, `healthy-${Math.random().toString(36).slice(2, 8)}`);
    const bus = await hardware.openI2cBus(1);
    expect(await bus.readByte(0x76, 0xd0)).toBe(0x60);
  }

  const hello = (id: number, device: string, extra: Record<string, unknown> = {}) => ({ id, op: 'hello', protocol: 1, device, session: `s-${id}-${device}`, ...extra });

  it('answers a garbage first line with an error and closes; a bad line after hello costs only that line', async () => {
    const { port } = await serve();
    const first = await raw(port);
    first.sendText('this is not json\n');
    expect(await first.next()).toEqual({
      id: null,
      ok: false,
      error: { type: 'ProtocolError', message: 'message is not JSON: this is not json (the first message must be a hello)' },
    });
    await first.closed;

    const second = await raw(port);
    second.send(hello(1, 'garbage'));
    expect(await second.next()).toMatchObject({ id: 1, ok: true, result: { protocol: 1, device: 'garbage', created: true } });
    second.sendText('{"id": 2, "op": \n');
    expect(await second.next()).toMatchObject({ id: null, ok: false, error: { type: 'ProtocolError', message: expect.stringContaining('not JSON') } });
    second.send({ id: 3, op: 'i2c_open', handle: 1, bus: 1 });
    expect(await second.next()).toEqual({ id: 3, ok: true });
    second.send({ id: 4, op: 'i2c_read_byte', handle: 1, address: 0x76, register: 0xd0 });
    expect(await second.next()).toEqual({ id: 4, ok: true, result: 0x60 });
    await stillServes(port);
  });

  it('drops a client whose line grows past the limit, without a newline', async () => {
    const { port } = await serve();
    const peer = await raw(port);
    peer.send(hello(1, 'long-line'));
    await peer.next();
    peer.sendText(`{"id":2,"op":"gpio_read","handle":1,"pad":"${'x'.repeat(40_000)}`);
    expect(await peer.next()).toMatchObject({ id: null, ok: false, error: { type: 'ProtocolError', message: expect.stringMatching(/longer than 16384 characters; closing/) } });
    await peer.closed;
    await stillServes(port);
  });

  it('answers unknown ops and wrong types with the request id and what is wrong', async () => {
    const { port } = await serve();
    const peer = await raw(port);
    peer.send(hello(1, 'types'));
    await peer.next();
    peer.send({ id: 2, op: 'explode' });
    expect(await peer.next()).toEqual({
      id: 2,
      ok: false,
      error: { type: 'ProtocolError', message: expect.stringMatching(/^unknown op "explode"; expected one of hello, gpio_open, .*i2c_close$/) },
    });
    peer.send({ id: 3, op: 'gpio_read', handle: 'seventeen' });
    expect(await peer.next()).toMatchObject({ id: 3, ok: false, error: { type: 'ProtocolError', message: expect.stringMatching(/^invalid gpio_read: handle: /) } });
    peer.send({ id: 4, op: 'i2c_write', handle: 1, address: 0x76, data: 'not hex' });
    expect(await peer.next()).toMatchObject({ id: 4, ok: false, error: { message: expect.stringContaining('data: must be bytes as lowercase hex') } });
    peer.send({ id: 5, op: 'gpio_read', handle: 9 });
    expect(await peer.next()).toMatchObject({ id: 5, ok: false, error: { type: 'ProtocolError', message: 'no open pin with handle 9 on this connection' } });
    peer.send({ id: 6, op: 'toString' });
    expect(await peer.next()).toMatchObject({ id: 6, ok: false, error: { message: expect.stringContaining('unknown op "toString"') } });
    peer.send({ op: 'gpio_read', handle: 1 });
    expect(await peer.next()).toMatchObject({ id: null, ok: false, error: { message: 'message needs a positive integer "id"' } });
    // The contract's own errors travel as their class: an open of a pin the board does not have.
    peer.send({ id: 7, op: 'gpio_open', handle: 2, pin: 40, direction: 'in', pull: 'up' });
    expect(await peer.next()).toEqual({ id: 7, ok: false, error: { type: 'GpioError', message: 'no such pin: BCM pins are 0..27' } });
    peer.send({ id: 8, op: 'i2c_open', handle: 3, bus: 1 });
    await peer.next();
    peer.send({ id: 9, op: 'i2c_read_block', handle: 3, address: 0x76, register: 0x88, length: 33 });
    expect(await peer.next()).toEqual({ id: 9, ok: false, error: { type: 'RangeError', message: 'I2C block length must be 1..32, got 33' } });
    await stillServes(port);
  });

  it('refuses requests before hello, a wrong protocol version and a malformed device name, and closes', async () => {
    const { port, fleet } = await serve();
    const early = await raw(port);
    early.send({ id: 1, op: 'gpio_read', handle: 1 });
    expect(await early.next()).toMatchObject({ id: 1, ok: false, error: { type: 'ProtocolError', message: expect.stringContaining('say hello first') } });
    await early.closed;

    const future = await raw(port);
    future.send(hello(1, 'future', { protocol: 2 }));
    expect(await future.next()).toMatchObject({ id: 1, ok: false, error: { message: expect.stringContaining('protocol version 2 is not supported; this simulator speaks version 1') } });
    await future.closed;

    const named = await raw(port);
    named.send(hello(1, 'no spaces please'));
    expect(await named.next()).toMatchObject({ id: 1, ok: false, error: { message: expect.stringContaining('must be 1–64 of A–Z a–z 0–9 . _ -') } });
    await named.closed;
    await expect(createRemoteHardware({ host: '127.0.0.1', port, device: 'no spaces please' })).rejects.toThrow(/device name "no spaces please" must be 1–64/);
    expect(fleet.names()).toEqual([]);
    await stillServes(port);
  });

  it('closes a connection that never says hello', async () => {
    const { port } = await serve({ helloTimeoutMs: 100 });
    const silent = await raw(port);
    expect(await silent.next()).toMatchObject({ id: null, ok: false, error: { message: 'no hello within 100 ms; closing' } });
    await silent.closed;
  });

  it('refuses a new device beyond the maximum with a clear error, and keeps serving the devices it has', async () => {
    const { port, fleet } = await serve({ maxDevices: 2 });
    await client(port, 'first');
    const second = await client(port, 'second');
    await expect(createRemoteHardware({ host: '127.0.0.1', port, device: 'third', connectTimeoutMs: 2_000 })).rejects.toThrow(
      'the simulator at 127.0.0.1:' +
        port +
        ' refused device "third": the simulator already holds its maximum of 2 devices (SIM_MAX_DEVICES); device "third" was refused: raise SIM_MAX_DEVICES or reuse a device name',
    );
    expect(fleet.names()).toEqual(['first', 'second']);
    // A second service of an existing device is welcome.
    const again = await client(port, 'second');
    expect(again.connected).toBe(true);
    const bus = await second.openI2cBus(1);
    expect(await bus.readByte(0x76, 0xd0)).toBe(0x60);
  });

  it('limits the pins, buses and watches one connection holds', async () => {
    const { port } = await serve({ maxHandlesPerConnection: 3 });
    const hardware = await client(port, 'greedy');
    const pin = await hardware.gpio.open({ pin: 17, direction: 'in', pull: 'down' });
    pin.watch('both', 0, () => {});
    await hardware.openI2cBus(1);
    const refused = await hardware.openI2cBus(1).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(HardwareError);
    expect((refused as HardwareError).code).toBe('i2c_open');
    expect((refused as Error).message).toMatch(/^I2C bus 1: the simulator at .* refused to open it: this connection holds 3 pins, buses and watches, the most one connection may hold/);
    const pinRefused = await hardware.gpio.open({ pin: 18, direction: 'in', pull: 'down' }).catch((error: unknown) => error);
    expect(pinRefused).toBeInstanceOf(GpioError);
    expect((pinRefused as GpioError).pin).toBe(18);
    // Closing one frees its place.
    await pin.close();
    expect((await hardware.gpio.open({ pin: 18, direction: 'in', pull: 'down' })).pin).toBe(18);
    await stillServes(port);
  });

  it('limits the connections it serves at once', async () => {
    const { port } = await serve({ maxConnections: 2 });
    await raw(port);
    await raw(port);
    const third = await raw(port);
    expect(await third.next()).toMatchObject({ id: null, ok: false, error: { message: expect.stringContaining('serves at most 2 connections at once') } });
    await third.closed;
  });

  it('releases the pins of a connection that vanished, so a restarted service can open them again', async () => {
    const { port, fleet } = await serve();
    const gone = await raw(port);
    gone.send(hello(1, 'shared'));
    await gone.next();
    gone.send({ id: 2, op: 'gpio_open', handle: 1, pin: 17, direction: 'in', pull: 'down' });
    expect(await gone.next()).toEqual({ id: 2, ok: true, result: { warnings: [] } });

    const other = await client(port, 'shared');
    const busy = await other.gpio.open({ pin: 17, direction: 'in', pull: 'down' }).catch((error: unknown) => error);
    expect(busy).toBeInstanceOf(GpioError);
    expect((busy as GpioError).message).toBe('GPIO 17: already open (another service owns it)');

    gone.destroy();
    const pin = await eventually(() => other.gpio.open({ pin: 17, direction: 'in', pull: 'down' }).catch(() => undefined), 5_000, 'GPIO 17 released');
    expect(pin.pin).toBe(17);
    expect(Object.keys((await fleet.device('shared')!.control.handle({ op: 'state' }) as { pins: object }).pins)).toEqual(['17']);
  });

  it('keeps devices apart: a fault on one is not seen by another', async () => {
    const { port, fleet } = await serve();
    const broken = await (await client(port, 'broken')).openI2cBus(1);
    const fine = await (await client(port, 'fine')).openI2cBus(1);
    await fleet.device('broken')!.control.handle({ op: 'bus_fault', bus: 1, address: 0x76, fault: 'nack' });
    await expect(broken.readByte(0x76, 0xd0)).rejects.toBeInstanceOf(I2cNackError);
    expect(await fine.readByte(0x76, 0xd0)).toBe(0x60);
  });
});

/** A client that speaks raw lines, for sending what a real client never would. */
class RawClient {
  readonly closed: Promise<void>;
  private readonly socket: Socket;
  private readonly received: unknown[] = [];
  private readonly waiters: (() => void)[] = [];
  private buffer = '';

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let newline = this.buffer.indexOf('\n');
      while (newline >= 0) {
        this.received.push(JSON.parse(this.buffer.slice(0, newline)));
        this.buffer = this.buffer.slice(newline + 1);
        newline = this.buffer.indexOf('\n');
      }
      for (const waiter of this.waiters.splice(0)) waiter();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        for (const waiter of this.waiters.splice(0)) waiter();
        resolve();
      }),
    );
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  send(message: unknown): void {
    this.sendText(`${JSON.stringify(message)}\n`);
  }

  sendText(text: string): void {
    this.socket.write(text);
  }

  /** The next message the server sends. */
  async next(): Promise<unknown> {
    while (this.received.length === 0) {
      if (this.socket.destroyed) throw new Error('the server closed the connection without a message');
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return this.received.shift();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
