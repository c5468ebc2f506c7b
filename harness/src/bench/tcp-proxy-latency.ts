import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { TcpProxy } from '../faults/tcp-proxy.ts';
import { median, numericFlag, percentile, progress } from './stats.ts';

/**
 * What the fault proxy costs and how exact its added latency is: the round-trip bounds the proxy
 * tests used to assert, measured instead.
 *
 *   npm run bench:tcp-proxy -- [--round-trips 200] [--runs 5] [--latency 150]
 *
 * Per run, small echo round trips over loopback:
 * - baseline: straight to a local echo server;
 * - through the proxy with no latency (its overhead);
 * - through the proxy with `--latency` ms each way (should take about twice that).
 * Reported: the median over the runs of each set-up's median and p95 round trip, and the ratio of
 * the medians to the baseline measured in the same runs (for the latency, to 2 × latency).
 */
const roundTrips = numericFlag('round-trips', 200);
const runs = numericFlag('runs', 5);
const latencyMs = numericFlag('latency', 150);

const server = createServer((socket) => {
  socket.on('error', () => {});
  socket.pipe(socket);
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const echoPort = (server.address() as { port: number }).port;
const proxy = await new TcpProxy({ targetHost: '127.0.0.1', targetPort: echoPort }).start();

const MESSAGE = 'ping-pong';

/** `count` sequential round trips of a short message on one connection, in ms each. */
async function measure(port: number, count: number): Promise<number[]> {
  const socket: Socket = connect({ host: '127.0.0.1', port, noDelay: true });
  await once(socket, 'connect');
  let received = 0;
  let echoed: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received >= MESSAGE.length) {
      received -= MESSAGE.length;
      echoed?.();
    }
  });
  const times: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      const back = new Promise<void>((resolve) => {
        echoed = resolve;
      });
      socket.write(MESSAGE);
      await back;
      times.push(performance.now() - started);
    }
  } finally {
    socket.destroy();
  }
  return times;
}

const setups = [
  { name: 'baseline: straight to the echo server', port: () => echoPort, latency: 0, expected: 0 },
  { name: 'through the proxy, no latency', port: () => proxy.port, latency: 0, expected: 0 },
  { name: `through the proxy, ${latencyMs} ms each way`, port: () => proxy.port, latency: latencyMs, expected: 2 * latencyMs },
];
// Fewer round trips with latency: each takes twice the latency.
const counts = setups.map((s) => (s.latency === 0 ? roundTrips : Math.max(5, Math.ceil(roundTrips / 20))));
const medians = setups.map(() => [] as number[]);
const p95s = setups.map(() => [] as number[]);
try {
  for (let run = 1; run <= runs; run++) {
    for (const [i, setup] of setups.entries()) {
      proxy.setLatency(setup.latency);
      const times = await measure(setup.port(), counts[i]!);
      medians[i]!.push(median(times));
      p95s[i]!.push(percentile(times, 0.95));
    }
    progress(`run ${run}/${runs}: ${setups.map((s, i) => `${s.name} ${medians[i]!.at(-1)!.toFixed(3)} ms`).join('; ')}`);
  }
} finally {
  await proxy.close();
  server.close();
}

const base = median(medians[0]!);
process.stdout.write(
  [
    '',
    `TCP proxy round trips over loopback, ${runs} runs, medians of per-run median and p95 (node ${process.version})`,
    '| set-up | round trips per run | median (ms) | p95 (ms) | ratio to baseline | ratio to 2 × latency |',
    '| --- | --- | --- | --- | --- | --- |',
    ...setups.map((setup, i) => {
      const mid = median(medians[i]!);
      const toLatency = setup.expected === 0 ? '–' : (mid / setup.expected).toFixed(3);
      return `| ${setup.name} | ${counts[i]} | ${mid.toFixed(3)} | ${median(p95s[i]!).toFixed(3)} | ${(mid / base).toFixed(3)} | ${toLatency} |`;
    }),
    '',
  ].join('\n'),
);
