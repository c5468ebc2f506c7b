import { statSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { builtinsPlugin } from './builtins-plugin.ts';
import { trimPlugin } from './trim-plugin.ts';

/**
 * The production build of the device: one self-contained ES module per entry point, so a device
 * starts one file instead of resolving and type-stripping some hundred TypeScript sources and
 * their packages' files (what that saves: `npm run bench:device-footprint`).
 *
 *   npm run build:device [-- --outdir <dir>]      (default device/dist)
 *
 * Each bundle is written as <outdir>/<folder>/main.mjs, the folder named as in device/src, so the
 * healthcheck recognises a bundled service by its command line as it does a source one. The
 * native addons stay outside, loaded from node_modules where the bundle runs: they are compiled
 * per machine and cannot be inlined.
 */
const deviceDir = fileURLToPath(new URL('..', import.meta.url));
const nodeModules = fileURLToPath(new URL('../../node_modules', import.meta.url));

/** Folder in device/src → what runs from it (the compose files' service names). */
export const DEVICE_ENTRY_POINTS = ['all-in-one', 'sensor', 'button', 'uplink', 'health'] as const;
export type DeviceEntryPoint = (typeof DEVICE_ENTRY_POINTS)[number];

/** Loaded from node_modules at run time: native code (i2c-bus; onoff and its epoll). */
const NATIVE = ['i2c-bus', 'onoff', 'epoll'];

export interface BundleResult {
  outdir: string;
  files: { entry: DeviceEntryPoint; file: string; bytes: number }[];
}

export interface BundleOptions {
  /**
   * Shorter source text (Node keeps it all in memory): whitespace and syntax only, so names in
   * stack traces stay readable. Shortening names as well measured 3–4 MiB more RSS, not less.
   */
  minify?: boolean;
  /** Leave out the parts of packages a device never runs (trim-plugin.ts). */
  trim?: boolean;
}

export async function bundleDevice(outdir: string, options: BundleOptions = {}): Promise<BundleResult> {
  const { minify = true, trim = true } = options;
  const files: BundleResult['files'] = [];
  for (const entry of DEVICE_ENTRY_POINTS) {
    const file = resolve(outdir, entry, 'main.mjs');
    await build({
      entryPoints: [resolve(deviceDir, 'src', entry, 'main.ts')],
      outfile: file,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22.18',
      external: NATIVE,
      // Bundled CommonJS packages (ioredis, mqtt, pino) call require() for Node's built-ins,
      // which an ES module does not have; give the bundle one.
      banner: { js: "import { createRequire as __iotCreateRequire } from 'node:module';\nconst require = __iotCreateRequire(import.meta.url);" },
      // Names stay as written: logs carry error types (err.type) and class names.
      keepNames: true,
      minifyWhitespace: minify,
      minifySyntax: minify,
      plugins: [builtinsPlugin(), ...(trim ? [trimPlugin(nodeModules)] : [])],
      legalComments: 'linked',
      sourcemap: 'linked',
      logLevel: 'warning',
    });
    files.push({ entry, file, bytes: statSync(file).size });
  }
  return { outdir, files };
}

function outdirFlag(argv: readonly string[]): string {
  const at = argv.indexOf('--outdir');
  const unknown = argv.filter((arg, i) => arg !== '--outdir' && argv[i - 1] !== '--outdir');
  if (unknown.length > 0) fail(`unexpected argument ${unknown[0]}`);
  if (at < 0) return resolve(deviceDir, 'dist');
  const value = argv[at + 1];
  if (value === undefined || value.startsWith('--') || value.trim() === '') fail('--outdir needs a directory');
  return isAbsolute(value) ? value : resolve(process.cwd(), value);
}

function fail(message: string): never {
  process.stderr.write(`build:device: ${message}\nusage: npm run build:device [-- --outdir <dir>]\n`);
  process.exit(2);
}

if (import.meta.main) {
  const result = await bundleDevice(outdirFlag(process.argv.slice(2)));
  for (const { file, bytes } of result.files) process.stdout.write(`${relative(process.cwd(), file)}  ${(bytes / 1024).toFixed(0)} KiB\n`);
}
