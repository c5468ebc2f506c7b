import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackendStack } from '../harness/backend-stack.ts';
import { ManagedProcess } from '../processes/managed-process.ts';
import { RedisServer } from '../processes/redis-server.ts';
import { entrypointPath, ServiceProcess } from '../processes/service-process.ts';
import { makeTempDir } from '../processes/temp-dir.ts';
import { cpuSeconds, mib, processMemory } from './proc-sample.ts';
import { median, numericFlag, progress } from './stats.ts';

/**
 * Benchmark P4 (issue 15): all device services in one process (sensor, start/stop button and the
 * uplink, simulated BME280 + SHT31) at 1 Hz, with the uplink delivering to a real broker and
 * receiver (BackendStack: aedes, SQLite or MariaDB). Target: ≤ 60 MB RSS, ≤ 1 % of one core.
 *
 *   npm run bench:device-footprint -- [--runs 3] [--seconds 60] [--warmup-seconds 30]
 *       [--database sqlite|mariadb] [--variants source,bundle,bundle-lite,...]
 *
 * Each run starts every variant at once, each with its own redis-server, plus the baselines: a
 * bare `node -e "setInterval(() => {}, 1000)"`, with no flags and with -small-malloc. After the
 * warm-up it samples each process once a second for `--seconds`: RSS (VmRSS, and its anonymous
 * and file-backed parts) from /proc/<pid>/status, CPU (utime + stime) from /proc/<pid>/stat over
 * the window, as % of one core. Peak is VmHWM (since start). The figures are medians over the
 * runs; ratios are against the bare node baseline of the same runs. The readings the receiver
 * stored during the window show that the uplink really ran. JSON: reports/bench/device-footprint.json.
 *
 * Variants: `source` (node device/src/all-in-one/main.ts, as the image runs it today), `bundle`
 * (the production build, npm run build:device, made afresh into a temp dir), and each of them
 * with Node flags:
 *   -semi   --max-semi-space-size=1: a 1 MB young generation instead of up to 16 MB per semi-space
 *   -small  -semi and --optimize-for-size --no-opt --no-maglev --no-sparkplug: the interpreter
 *           only, so the compilers' code in the node binary is never paged in, and V8's
 *           memory-saving heuristics; WebAssembly stays (fetch and type stripping need it)
 *   -lite   -semi and --lite-mode, which is -small plus no WebAssembly at all: only the bundle
 *           starts with it, and fetch() fails in it
 *   -…-malloc  the same with GLIBC_TUNABLES=glibc.malloc.mmap_threshold=65536
 */
/** Node flags, and the environment that goes with them, tried on each build. */
const SMALL = ['--max-semi-space-size=1', '--optimize-for-size', '--no-opt', '--no-maglev', '--no-sparkplug'];
const LITE = ['--max-semi-space-size=1', '--lite-mode'];
// glibc's malloc keeps freed memory of the start-up (the parser's and compiler's zones) unless
// large blocks get their own mappings, which go back to the kernel when freed.
const MALLOC = { GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=65536' };
const FLAG_SETS: Record<string, { args: readonly string[]; env?: Record<string, string> }> = {
  '': { args: [] },
  semi: { args: ['--max-semi-space-size=1'] },
  small: { args: SMALL },
  'small-malloc': { args: SMALL, env: MALLOC },
  lite: { args: LITE },
  'lite-malloc': { args: LITE, env: MALLOC },
};
type Build = 'source' | 'bundle';
interface Variant {
  name: string;
  build: Build | 'baseline';
  flags: readonly string[];
  env: Record<string, string>;
}

const ALL_VARIANTS: Variant[] = (['source', 'bundle'] as const).flatMap((build) =>
  Object.entries(FLAG_SETS)
    // Lite mode turns WebAssembly off, and Node strips TypeScript types with a WebAssembly
    // module: the sources cannot start with it (ERR_WEBASSEMBLY_NOT_SUPPORTED), only the bundle.
    .filter(([, { args }]) => build === 'bundle' || !args.includes('--lite-mode'))
    .map(([set, { args, env = {} }]) => ({ name: set === '' ? build : `${build}-${set}`, build, flags: args, env })),
);
const BASELINES: Variant[] = [
  { name: 'bare node', build: 'baseline', flags: [], env: {} },
  { name: 'bare node-small-malloc', build: 'baseline', flags: SMALL, env: MALLOC },
];

const runs = numericFlag('runs', 3);
const seconds = numericFlag('seconds', 60);
const warmupSeconds = numericFlag('warmup-seconds', 30);
const database = stringFlag('database', 'sqlite', ['sqlite', 'mariadb']) as 'sqlite' | 'mariadb';
const variants = selectedVariants();
const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));
const TARGET = { rssMiB: 60, cpuPercent: 1 };

function stringFlag(name: string, fallback: string, allowed?: readonly string[]): string {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = process.argv[at + 1];
  if (value === undefined || value.startsWith('--') || (allowed !== undefined && !allowed.includes(value))) {
    process.stderr.write(`--${name} needs ${allowed === undefined ? 'a value' : `one of ${allowed.join(', ')}`}\n`);
    process.exit(2);
  }
  return value;
}

function selectedVariants(): Variant[] {
  const names = stringFlag('variants', ALL_VARIANTS.map((v) => v.name).join(','))
    .split(',')
    .map((s) => s.trim());
  const unknown = names.filter((n) => !ALL_VARIANTS.some((v) => v.name === n));
  if (unknown.length > 0 || names.length === 0) {
    process.stderr.write(`--variants: unknown ${unknown.join(', ')}; choose from ${ALL_VARIANTS.map((v) => v.name).join(', ')}\n`);
    process.exit(2);
  }
  return ALL_VARIANTS.filter((v) => names.includes(v.name));
}

interface RunFigures {
  rssMiB: number;
  anonMiB: number;
  fileMiB: number;
  peakMiB: number;
  cpuPercent: number;
  /** Readings the receiver stored for this device during the window (none for a baseline). */
  stored: number;
  recorded: number;
}

interface Running {
  variant: Variant;
  process: ManagedProcess;
  redis?: RedisServer;
  deviceId?: string;
}

const out = makeTempDir('device-footprint');
progress('building the device bundle (npm run build:device)…');
const bundleDir = join(out.path, 'dist');
await buildBundle(bundleDir);
const mains: Record<Build, string> = { source: entrypointPath('device-all-in-one'), bundle: join(bundleDir, 'all-in-one', 'main.mjs') };

const deviceIds = variants.map((_, i) => `footprint-${i + 1}`);
const stack = await new BackendStack({ deviceIds, broker: 'aedes', database }).start();
await stack.startReceiver();
const db = await stack.database();

const figures = new Map<string, RunFigures[]>();
try {
  for (let run = 1; run <= runs; run++) {
    progress(`run ${run}/${runs}: starting ${variants.length} devices and ${BASELINES.length} baselines`);
    const running = await startAll();
    try {
      await Promise.all(running.filter((r) => r.deviceId !== undefined).map((r) => (r.process as ServiceProcess).waitForLog((l) => l.event === 'uplink_connected', 90_000, `${r.variant.name}: the uplink to connect`)));
      progress(`run ${run}/${runs}: warming up for ${warmupSeconds} s`);
      await sleep(warmupSeconds * 1000);
      for (const [name, result] of await measure(running)) figures.set(name, [...(figures.get(name) ?? []), result]);
    } finally {
      await Promise.all(running.map(async (r) => {
        await r.process.kill();
        await r.redis?.dispose();
      }));
    }
  }
} finally {
  await stack.dispose();
  out.remove();
}
report();

async function buildBundle(outdir: string): Promise<void> {
  const build = new ManagedProcess({ name: 'build-device', command: process.execPath, args: [join(repositoryRoot, 'device/build/bundle.ts'), '--outdir', outdir] });
  const exit = await build.exited;
  if (exit.code !== 0) throw new Error(`npm run build:device failed (${JSON.stringify(exit)})\n${build.tail()}`);
}

async function startAll(): Promise<Running[]> {
  const devices = await Promise.all(
    variants.map(async (variant, i): Promise<Running> => {
      const redis = await new RedisServer().start();
      const deviceId = deviceIds[i]!;
      const login = stack.login(deviceId);
      const process = new ServiceProcess({
        name: `device-${variant.name}`,
        command: globalThis.process.execPath,
        args: [...variant.flags, mains[variant.build as Build]],
        env: {
          PATH: globalThis.process.env.PATH,
          HOME: globalThis.process.env.HOME,
          HARDWARE: 'sim',
          REDIS_HOST: redis.host,
          REDIS_PORT: String(redis.port),
          SENSORS: 'bme280@0x76,sht31@0x44:outdoor',
          INTERVAL_SECONDS: '1',
          SIM_ENVIRONMENT: 'daily:600',
          BALENA_DEVICE_UUID: deviceId,
          MQTT_HOST: '127.0.0.1',
          MQTT_PORT: String(stack.brokerPort),
          MQTT_USERNAME: login.username,
          MQTT_PASSWORD: login.password,
          ...variant.env,
        },
      });
      return { variant, process, redis, deviceId };
    }),
  );
  const baselines = BASELINES.map((variant) => ({
    variant,
    process: new ManagedProcess({
      name: variant.name,
      command: process.execPath,
      args: [...variant.flags, '-e', 'setInterval(() => {}, 1000)'],
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...variant.env },
    }),
  }));
  return [...devices, ...baselines];
}

async function measure(running: Running[]): Promise<Map<string, RunFigures>> {
  const pid = (r: Running) => r.process.pid!;
  const samples = new Map(running.map((r) => [r.variant.name, [] as ReturnType<typeof processMemory>[]]));
  const cpuBefore = new Map(running.map((r) => [r.variant.name, cpuSeconds(pid(r))]));
  const storedBefore = new Map(await Promise.all(running.map(async (r) => [r.variant.name, r.deviceId === undefined ? 0 : await db.readings.countReadings(r.deviceId)] as const)));
  const recordedBefore = new Map(running.map((r) => [r.variant.name, recorded(r)]));
  const started = performance.now();
  for (let second = 1; second <= seconds; second++) {
    await sleep(started + second * 1000 - performance.now());
    for (const r of running) {
      if (!r.process.running) throw new Error(`${r.variant.name} exited during the measurement\n${r.process.tail()}`);
      samples.get(r.variant.name)!.push(processMemory(pid(r)));
    }
    if (second % 15 === 0 || second === seconds) {
      const line = running.map((r) => `${r.variant.name} ${mib(samples.get(r.variant.name)!.at(-1)!.rssKiB).toFixed(1)}`).join(', ');
      progress(`  ${second}/${seconds} s, RSS MiB: ${line}`);
    }
  }
  const elapsed = (performance.now() - started) / 1000;
  const cpuAfter = new Map(running.map((r) => [r.variant.name, cpuSeconds(pid(r))]));
  const recordedAfter = new Map(running.map((r) => [r.variant.name, recorded(r)]));
  // Give the uplink a moment to deliver what was recorded at the very end of the window.
  await sleep(3000);
  const result = new Map<string, RunFigures>();
  for (const r of running) {
    const s = samples.get(r.variant.name)!;
    const stored = r.deviceId === undefined ? 0 : (await db.readings.countReadings(r.deviceId)) - storedBefore.get(r.variant.name)!;
    result.set(r.variant.name, {
      rssMiB: mib(median(s.map((x) => x.rssKiB))),
      anonMiB: mib(median(s.map((x) => x.anonKiB))),
      fileMiB: mib(median(s.map((x) => x.fileKiB))),
      peakMiB: mib(processMemory(pid(r)).peakKiB),
      cpuPercent: ((cpuAfter.get(r.variant.name)! - cpuBefore.get(r.variant.name)!) / elapsed) * 100,
      stored,
      recorded: recordedAfter.get(r.variant.name)! - recordedBefore.get(r.variant.name)!,
    });
  }
  return result;
}

function recorded(r: Running): number {
  return r.process instanceof ServiceProcess ? r.process.logs().filter((l) => l.event === 'reading_recorded').length : 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

function report(): void {
  const med = (name: string, key: keyof RunFigures) => median((figures.get(name) ?? []).map((f) => f[key]));
  const bare = med('bare node', 'rssMiB');
  const rows = [...variants, ...BASELINES].map((v) => {
    const rss = med(v.name, 'rssMiB');
    const cpu = med(v.name, 'cpuPercent');
    return {
      variant: v.name,
      flags: [...Object.entries(v.env).map(([k, x]) => `${k}=${x}`), ...v.flags].join(' '),
      rssMiB: rss,
      anonMiB: med(v.name, 'anonMiB'),
      fileMiB: med(v.name, 'fileMiB'),
      peakMiB: med(v.name, 'peakMiB'),
      cpuPercent: cpu,
      storedPerWindow: med(v.name, 'stored'),
      recordedPerWindow: med(v.name, 'recorded'),
      rssRatioToBareNode: rss / bare,
      meetsTarget: v.build === 'baseline' ? undefined : rss <= TARGET.rssMiB && med(v.name, 'peakMiB') <= TARGET.rssMiB && cpu <= TARGET.cpuPercent,
      runs: figures.get(v.name) ?? [],
    };
  });
  const f1 = (x: number) => x.toFixed(1);
  process.stdout.write(
    [
      '',
      `P4: the all-in-one device at 1 Hz with its uplink delivering to aedes + receiver + ${database} (node ${process.version}); medians of ${runs} runs of ${seconds} s after ${warmupSeconds} s of warm-up`,
      '| variant | node flags | RSS MiB | anon / file MiB | peak MiB | CPU % of a core | stored / recorded in window | RSS / bare node | ≤ 60 MB, ≤ 1 % |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...rows.map(
        (r) =>
          `| ${r.variant} | ${r.flags || '–'} | ${f1(r.rssMiB)} | ${f1(r.anonMiB)} / ${f1(r.fileMiB)} | ${f1(r.peakMiB)} | ${r.cpuPercent.toFixed(2)} | ${r.storedPerWindow} / ${r.recordedPerWindow} | ${r.rssRatioToBareNode.toFixed(2)} | ${r.meetsTarget === undefined ? '(baseline)' : r.meetsTarget ? 'yes' : 'no'} |`,
      ),
      '',
    ].join('\n'),
  );
  const dir = join(repositoryRoot, 'reports', 'bench');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'device-footprint.json');
  writeFileSync(file, `${JSON.stringify({ benchmark: 'P4 device footprint', node: process.version, database, runs, seconds, warmupSeconds, target: TARGET, rows }, null, 2)}\n`);
  progress(`wrote ${file}`);
}
