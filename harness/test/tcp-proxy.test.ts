import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { createRandom } from '@iot/simulator';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { TcpProxy } from '../src/faults/tcp-proxy.ts';
import { findFreePort } from '../src/processes/free-port.ts';
import { holdsFor } from '../src/testing/holds-for.ts';
import { eventually } from '../src/testing/log-capture.ts';
import { ManualClock } from '../src/testing/manual-clock.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An echo server that also records what reached it and which of its sockets are open. */
async function startEchoServer(): Promise<{ port: number; received: () => number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  let received = 0;
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('no address');
  return { port: address.port, received: () => received, sockets };
}

async function startProxy(targetPort: number, clock?: ManualClock): Promise<TcpProxy> {
  const proxy = await new TcpProxy({ targetHost: '127.0.0.1', targetPort, ...(clock === undefined ? {} : { clock }) }).start();
  cleanups.push(() => proxy.close());
  return proxy;
}

async function openClient(port: number): Promise<{ socket: Socket; bytes: () => Buffer }> {
  const socket = connect({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  cleanups.push(() => socket.destroy());
  await once(socket, 'connect');
  return { socket, bytes: () => Buffer.concat(chunks) };
}

/** Writes `message` and waits for its echo. */
async function roundTrip(client: { socket: Socket; bytes: () => Buffer }, message: string): Promise<void> {
  const before = client.bytes().length;
  client.socket.write(message);
  await eventually(() => client.bytes().length >= before + message.length, 5000, `the echo of ${message}`);
}

describe('TcpProxy', () => {
  it('passes 1 MiB through unchanged in both directions and forwards the half-close after the data', async () => {
    const echo = await startEchoServer();
    const proxy = await startProxy(echo.port);
    const client = await openClient(proxy.port);
    const payload = randomBytes(1024 * 1024);
    client.socket.end(payload);
    // The echo server ends its side only after it received our FIN, which must trail all the data.
    await once(client.socket, 'end');
    expect(client.bytes().length).toBe(payload.length);
    expect(client.bytes().equals(payload)).toBe(true);
    expect(proxy.connections).toBe(1);
    await eventually(() => proxy.active === 0, 2000, 'the proxied connection to close');
  });

  it('adds the latency once per direction, and none when set back to 0', async () => {
    // The proxy times its latency on a clock the test moves: what is due when is exact, on any machine.
    const clock = new ManualClock();
    const echo = await startEchoServer();
    const proxy = await startProxy(echo.port, clock);
    const client = await openClient(proxy.port);
    const start = clock.now();
    // No latency: the echo comes back without the clock moving at all.
    await roundTrip(client, 'warm-up');
    proxy.setLatency(150);
    const received = echo.received();
    client.socket.write('ping');
    // On its way out the chunk waits for exactly the latency...
    expect((await eventually(() => clock.pending[0], 5000, 'the chunk queued')).deadline).toBe(start + 150);
    clock.advance(150);
    await eventually(() => echo.received() === received + 4, 5000, 'the ping at the echo server');
    // ...and the echo again on its way back, so it is not here yet.
    expect((await eventually(() => clock.pending[0], 5000, 'the echo queued')).deadline).toBe(start + 300);
    expect(client.bytes().toString()).toBe('warm-up');
    clock.advance(150);
    await eventually(() => client.bytes().toString() === 'warm-upping', 5000, 'the echo of ping');
    proxy.setLatency(0);
    await roundTrip(client, 'pong');
    expect(clock.now()).toBe(start + 300);
  });

  it('keeps the byte order while chunks arrive irregularly and the latency changes under them', async () => {
    const clock = new ManualClock();
    const echo = await startEchoServer();
    const proxy = await startProxy(echo.port, clock);
    const client = await openClient(proxy.port);
    const random = createRandom(7);
    const latencies = [80, 0, 40, 5, 120, 1];
    const sent: Buffer[] = [];
    for (let i = 0; i < 240; i++) {
      // A drop from 120 ms to 1 ms would let later chunks overtake earlier ones with a timer per chunk.
      if (i % 20 === 0) proxy.setLatency(latencies[(i / 20) % latencies.length]!);
      const chunk = Buffer.from(`<${i}:${'x'.repeat(Math.floor(random.next() * 50))}>`);
      sent.push(chunk);
      client.socket.write(chunk);
      // Irregular arrival: sometimes the proxy sees the chunk at once, sometimes after 0-5 ms of its time.
      if (random.next() < 0.5) {
        await new Promise((resolve) => setImmediate(resolve));
        clock.advance(Math.floor(random.next() * 6));
      }
    }
    const expected = Buffer.concat(sent);
    await clock.advanceUntil(() => client.bytes().length >= expected.length, 20, 'all echoed bytes');
    expect(client.bytes().toString()).toBe(expected.toString());
  });

  it('partitions silently: nothing crosses, closes are not forwarded, new connections hang; heal resets survivors', async () => {
    const echo = await startEchoServer();
    const proxy = await startProxy(echo.port);
    const survivor = await openClient(proxy.port);
    const quitter = await openClient(proxy.port);
    await roundTrip(survivor, 'hello');
    await roundTrip(quitter, 'hi');
    const receivedBefore = echo.received();
    expect(echo.sockets.length).toBe(2);

    proxy.partition();
    expect(proxy.partitioned).toBe(true);
    survivor.socket.write('lost on the way');
    echo.sockets[0]!.write('lost coming back');
    quitter.socket.destroy();
    // Accepted (the connect succeeds) but never connected through.
    const hung = await openClient(proxy.port);
    hung.socket.write('nobody hears this');
    // Nothing crosses in either direction, and the quitter's close does not cross either.
    await holdsFor(
      () => echo.received() === receivedBefore && survivor.bytes().toString() === 'hello' && echo.sockets.length === 2 && !echo.sockets[1]!.destroyed,
      300,
      'the partition',
    );
    expect(proxy.connections).toBe(3);
    expect(proxy.active).toBe(3);

    proxy.heal();
    expect(proxy.partitioned).toBe(false);
    await Promise.all([once(survivor.socket, 'close'), once(hung.socket, 'close')]);
    await eventually(() => echo.sockets.every((s) => s.destroyed), 2000, 'the far sides to close');
    await eventually(() => proxy.active === 0, 2000, 'no active connections');
    const fresh = await openClient(proxy.port);
    await roundTrip(fresh, 'again');
    expect(fresh.bytes().toString()).toBe('again');
    expect(proxy.connections).toBe(4);
  });

  it('survives a target that refuses connections, counting the error', async () => {
    const proxy = await startProxy(await findFreePort()); // nothing listens there
    const client = await openClient(proxy.port);
    await once(client.socket, 'close');
    expect(proxy.errors).toBeGreaterThanOrEqual(1);
    await eventually(() => proxy.active === 0, 2000, 'no active connections');
  });
});

describe('TcpProxy between an MQTT client and aedes', () => {
  async function startBroker(): Promise<number> {
    const broker = await Aedes.createBroker();
    const server = createServer(broker.handle);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(async () => {
      await new Promise((resolve) => server.close(resolve));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    });
    const address = server.address();
    if (address === null || typeof address !== 'object') throw new Error('no address');
    return address.port;
  }

  function mqttClient(port: number, options: mqtt.IClientOptions = {}): MqttClient {
    const client = mqtt.connect({ host: '127.0.0.1', port, protocolVersion: 4, keepalive: 2, reconnectPeriod: 200, connectTimeout: 30_000, ...options });
    client.on('error', () => {});
    cleanups.push(() => client.endAsync(true));
    return client;
  }

  function nextConnect(client: MqttClient): Promise<void> {
    return new Promise((resolve) => client.once('connect', () => resolve()));
  }

  it('cuts a subscriber off until keepalive notices, and it reconnects and receives again after heal', async () => {
    const brokerPort = await startBroker();
    const proxy = await startProxy(brokerPort);
    const publisher = mqttClient(brokerPort);
    // A short connect timeout lets the subscriber retry while its reconnects hang in the partition.
    const subscriber = mqttClient(proxy.port, { connectTimeout: 1000 });
    const errors: string[] = [];
    subscriber.on('error', (error) => errors.push(error.message));
    const received: string[] = [];
    subscriber.on('message', (_topic, payload) => received.push(payload.toString()));
    await Promise.all([nextConnect(publisher), nextConnect(subscriber)]);
    await subscriber.subscribeAsync('t', { qos: 1 });

    await publisher.publishAsync('t', 'before', { qos: 1 });
    await eventually(() => received.includes('before'), 2000, 'the message before the partition');

    proxy.partition();
    let closed = false;
    subscriber.once('close', () => {
      closed = true;
    });
    await publisher.publishAsync('t', 'during', { qos: 1 });
    // Silent: no FIN, no reset. The subscriber finds out only through its own keepalive (2 s; MQTT.js
    // gives up 1.5 × keepalive after the last packet, which MQTT-3.1.2.10 allows).
    await eventually(() => closed, 8000, 'the subscriber to notice the partition');
    await eventually(() => errors.includes('Keepalive timeout'), 2000, 'the keepalive timeout as the reason');
    expect(received).toEqual(['before']);
    // Its reconnect attempts are accepted by the proxy but get no CONNACK.
    await eventually(() => proxy.connections >= 2, 3000, 'a reconnect attempt');
    await holdsFor(() => !subscriber.connected && received.length === 1, 500, 'the reconnect hanging');

    proxy.heal();
    await nextConnect(subscriber);
    await eventually(async () => {
      await publisher.publishAsync('t', 'after', { qos: 1 });
      return received.includes('after');
    }, 5000, 'a message after the heal');
    expect(received).not.toContain('during');
  });

  it('hangs a new connection during the partition (no CONNACK) and lets it connect after heal', async () => {
    const brokerPort = await startBroker();
    const proxy = await startProxy(brokerPort);
    proxy.partition();
    const client = mqttClient(proxy.port, { reconnectPeriod: 100 });
    let connected = false;
    client.on('connect', () => {
      connected = true;
    });
    await eventually(() => proxy.connections === 1, 2000, 'the proxy to accept the connection');
    await holdsFor(() => !connected, 1500, 'no CONNACK through the partition');
    proxy.heal();
    await eventually(() => connected, 5000, 'the CONNACK after heal');
    expect(proxy.connections).toBe(2); // the hung connection was reset, the client reconnected
  });
});
