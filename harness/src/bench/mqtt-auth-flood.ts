import { once } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import mqtt from 'mqtt';
import { Credentials } from '../harness/credentials.ts';
import { BrokerProcess } from '../processes/broker-process.ts';
import { makeTempDir } from '../processes/temp-dir.ts';
import { connectPacket } from '../testing/connect-packet.ts';
import { median, numericFlag, percentile, progress } from './stats.ts';

/**
 * Password guessing against the aedes broker: how many guesses it answers, how many it actually
 * checks, and what a flood does to a legitimate device's login.
 *
 *   npm run bench:mqtt-auth-flood -- [--runs 5] [--seconds 5] [--flooders 64] [--flood-addresses 1] [--logins 20]
 *
 * Per run, against one broker process on loopback:
 * - baseline: `--logins` sequential logins of a device (MQTT.js, CONNECT to CONNACK) from
 *   127.0.0.1, with nothing else going on;
 * - flood: `--flooders` concurrent raw-socket loops from `--flood-addresses` other loopback
 *   addresses (127.0.0.2, …), each sending a CONNECT with a wrong password, half for the device's
 *   own username and half for unknown ones, reading the CONNACK and starting over, for
 *   `--seconds`; meanwhile the same device logs in again and again from 127.0.0.1.
 * The flood runs in a worker thread, so its socket callbacks do not delay the device's login in
 * the measuring thread (both still share the machine's cores with the broker).
 * Reported: medians over the runs of the flood's offered CONNECTs/s, answered/s, checked
 * guesses/s (CONNACK 4: the password was hashed and compared) and refused unchecked/s (CONNACK 3),
 * and of the device's median and p95 login time, with its ratio to the same run's baseline.
 */
const runs = numericFlag('runs', 5);
const seconds = numericFlag('seconds', 5);
const flooders = numericFlag('flooders', 64);
const floodAddresses = numericFlag('flood-addresses', 1);
const logins = numericFlag('logins', 20);

const DEVICE = 'bench-dev';

interface FloodJob {
  port: number;
  username: string;
  seconds: number;
  flooders: number;
  floodAddresses: number;
}

interface FloodCounts {
  offered: number;
  codes: Map<number, number>;
  closedWithoutConnack: number;
}

/** One guess: connect, send CONNECT, wait for the CONNACK's return code (or the close). */
function guess(port: number, localAddress: string, packet: Buffer): Promise<number | 'closed'> {
  return new Promise((resolve) => {
    const socket: Socket = netConnect({ host: '127.0.0.1', port, localAddress, noDelay: true });
    let buffered = Buffer.alloc(0);
    let settled = false;
    const settle = (outcome: number | 'closed') => {
      if (settled) return;
      settled = true;
      // RST instead of FIN: no TIME_WAIT, so a long flood does not run out of ephemeral ports.
      socket.resetAndDestroy();
      resolve(outcome);
    };
    socket.on('error', () => settle('closed'));
    socket.on('close', () => settle('closed'));
    socket.on('connect', () => socket.write(packet));
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length >= 4 && buffered[0] === 0x20) settle(buffered[3]!);
    });
  });
}

/** In the worker thread: `job.flooders` guessing loops for `job.seconds`. */
async function flood(job: FloodJob): Promise<FloodCounts> {
  const until = performance.now() + job.seconds * 1000;
  const counts: FloodCounts = { offered: 0, codes: new Map(), closedWithoutConnack: 0 };
  await Promise.all(
    Array.from({ length: job.flooders }, async (_, worker) => {
      const localAddress = `127.0.0.${2 + (worker % job.floodAddresses)}`;
      for (let i = 0; performance.now() < until; i++) {
        const username = i % 2 === 0 ? job.username : `nobody-${worker}-${i}`;
        counts.offered++;
        const outcome = await guess(job.port, localAddress, connectPacket({ clientId: `flood-${worker}-${i}`, username, password: `guess-${i}` }));
        if (outcome === 'closed') counts.closedWithoutConnack++;
        else counts.codes.set(outcome, (counts.codes.get(outcome) ?? 0) + 1);
      }
    }),
  );
  return counts;
}

if (!isMainThread) {
  parentPort!.postMessage({ started: true });
  const counts = await flood(workerData as FloodJob);
  parentPort!.postMessage({ ...counts, codes: [...counts.codes] });
} else {
  await main();
}

/**
 * Starts a flood in a worker thread and resolves once it runs (the thread takes a while to load),
 * with the promise of its counts.
 */
async function floodInWorker(job: FloodJob): Promise<{ done: Promise<FloodCounts> }> {
  const worker = new Worker(new URL(import.meta.url), { workerData: job });
  await once(worker, 'message');
  const done = once(worker, 'message').then(async ([result]: (FloodCounts & { codes: [number, number][] })[]) => {
    await worker.terminate();
    return { ...result!, codes: new Map(result!.codes) };
  });
  return { done };
}

/** One login of the device as the uplink does it (MQTT.js), in ms from connect() to CONNACK. */
async function deviceLogin(url: string, login: { username: string; password: string }): Promise<number> {
  const started = performance.now();
  const client = mqtt.connect(url, { ...login, clientId: `device-${DEVICE}`, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 30_000 });
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    return performance.now() - started;
  } finally {
    await client.endAsync(true);
  }
}

async function deviceLogins(url: string, login: { username: string; password: string }, count: number | undefined, until = Number.POSITIVE_INFINITY): Promise<number[]> {
  const times: number[] = [];
  while ((count === undefined || times.length < count) && performance.now() < until) times.push(await deviceLogin(url, login));
  return times;
}

async function main(): Promise<void> {
  const dir = makeTempDir('auth-flood-bench');
  const credentials = await Credentials.create(dir.path, [DEVICE]);
  const login = credentials.login(DEVICE);
  progress('starting the aedes broker...');
  const broker = await new BrokerProcess({ env: { MQTT_CREDENTIALS_FILE: credentials.file }, logFile: `${dir.path}/broker.log` }).start();

  const perRun: { base: number; during: number; duringP95: number; offered: number; answered: number; checked: number; unchecked: number; loginsDuring: number }[] = [];
  for (let run = 1; run <= runs; run++) {
    const base = median(await deviceLogins(broker.url, login, logins));
    const flood = await floodInWorker({ port: broker.port, username: login.username, seconds, flooders, floodAddresses });
    const during = await deviceLogins(broker.url, login, undefined, performance.now() + seconds * 1000);
    const counts = await flood.done;
    const answered = [...counts.codes.values()].reduce((a, b) => a + b, 0);
    const result = {
      base,
      during: median(during),
      duringP95: percentile(during, 0.95),
      offered: counts.offered / seconds,
      answered: answered / seconds,
      checked: (counts.codes.get(4) ?? 0) / seconds,
      unchecked: (counts.codes.get(3) ?? 0) / seconds,
      loginsDuring: during.length,
    };
    perRun.push(result);
    const other = [...counts.codes].filter(([code]) => code !== 3 && code !== 4);
    progress(
      `run ${run}/${runs}: device login ${base.toFixed(1)} ms alone, ${result.during.toFixed(1)} ms (p95 ${result.duringP95.toFixed(1)}, ${during.length} logins) during the flood; ` +
        `flood offered ${result.offered.toFixed(0)}/s, answered ${result.answered.toFixed(0)}/s, checked ${result.checked.toFixed(1)}/s, refused unchecked ${result.unchecked.toFixed(0)}/s` +
        `${counts.closedWithoutConnack > 0 ? `, ${counts.closedWithoutConnack} closed without CONNACK` : ''}${other.length > 0 ? `, other codes ${JSON.stringify(other)}` : ''}`,
    );
  }

  const m = (pick: (r: (typeof perRun)[number]) => number) => median(perRun.map(pick));
  const all = (pick: (r: (typeof perRun)[number]) => number, digits = 0) => perRun.map((r) => pick(r).toFixed(digits)).join(', ');
  process.stdout.write(
    [
      '',
      `MQTT password flood against aedes: ${flooders} flooders from ${floodAddresses} address(es), ${runs} runs of ${seconds} s (node ${process.version})`,
      '| what | median | ratio to baseline | runs |',
      '| --- | --- | --- | --- |',
      `| baseline: device login, no flood (ms) | ${m((r) => r.base).toFixed(1)} | 1.00 | ${all((r) => r.base, 1)} |`,
      `| device login during the flood, median (ms) | ${m((r) => r.during).toFixed(1)} | ${m((r) => r.during / r.base).toFixed(2)} | ${all((r) => r.during, 1)} |`,
      `| device login during the flood, p95 (ms) | ${m((r) => r.duringP95).toFixed(1)} | ${m((r) => r.duringP95 / r.base).toFixed(2)} | ${all((r) => r.duringP95, 1)} |`,
      `| flood: CONNECTs offered (/s) | ${m((r) => r.offered).toFixed(0)} | | ${all((r) => r.offered)} |`,
      `| flood: CONNACKs answered (/s) | ${m((r) => r.answered).toFixed(0)} | | ${all((r) => r.answered)} |`,
      `| flood: guesses checked, CONNACK 4 (/s) | ${m((r) => r.checked).toFixed(1)} | | ${all((r) => r.checked, 1)} |`,
      `| flood: refused unchecked, CONNACK 3 (/s) | ${m((r) => r.unchecked).toFixed(0)} | | ${all((r) => r.unchecked)} |`,
      '',
    ].join('\n'),
  );

  await broker.dispose();
  dir.remove();
}
