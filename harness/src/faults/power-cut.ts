import { readFileSync, statSync, truncateSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type Clock, systemClock } from '@iot/common/clock';
import type { RedisServer } from '../processes/redis-server.ts';

export interface AofSizeTrackerOptions {
  /** Redis's `appenddirname` (device/redis/redis.conf). */
  appendDirName?: string;
  /** Redis's `appendfilename`; the manifest is `<appendfilename>.manifest`. */
  appendFilename?: string;
  /** Sampling period, ms. The loss window is only as exact as this. */
  intervalMs?: number;
  /** How far back samples are kept, ms; must exceed the largest loss window asked for. */
  historyMs?: number;
  clock?: Clock;
}

/** The current incremental AOF file's size at one moment. */
export interface AofSample {
  /** Clock ms just after the size was read: the file held at least `size` bytes at `at`. */
  at: number;
  /** Absolute path of the incremental AOF file the manifest named at that moment. */
  file: string;
  size: number;
}

/**
 * Remembers how the current incremental AOF file grew over the last seconds, so a power cut can
 * roll it back to what was on disk a moment ago. Redis 7 keeps a multi-part AOF: a manifest lists a
 * base file (`type b`) and incremental files (`type i`); writes go to the last incremental file, and
 * an AOF rewrite switches to a new one, so every sample re-reads the manifest.
 */
export class AofSizeTracker {
  readonly appendDir: string;
  private readonly manifestPath: string;
  private readonly intervalMs: number;
  private readonly historyMs: number;
  /** The clock samples are timed with; a power cut takes its time from it too. */
  readonly clock: Clock;
  private readonly history: AofSample[] = [];
  private running: { stop: AbortController; loop: Promise<void> } | undefined;

  /** @param redis the server whose data directory holds the AOF (only `dir` is used). */
  constructor(redis: Pick<RedisServer, 'dir'>, options: AofSizeTrackerOptions = {}) {
    this.appendDir = join(redis.dir, options.appendDirName ?? 'appendonlydir');
    this.manifestPath = join(this.appendDir, `${options.appendFilename ?? 'appendonly.aof'}.manifest`);
    this.intervalMs = options.intervalMs ?? 50;
    this.historyMs = options.historyMs ?? 5000;
    this.clock = options.clock ?? systemClock;
  }

  /** Samples now and then every `intervalMs` until {@link stop}. Redis must have created its AOF. */
  async start(): Promise<this> {
    if (this.running !== undefined) return this;
    if ((await this.sample()) === undefined) throw new Error(`no AOF manifest at ${this.manifestPath}: is redis-server running with appendonly yes?`);
    const stop = new AbortController();
    const loop = (async () => {
      while (!stop.signal.aborted) {
        await this.clock.sleep(this.intervalMs, stop.signal);
        // A failed read (say, the directory removed under us) skips one sample; the next may work.
        if (!stop.signal.aborted) await this.sample().catch(() => undefined);
      }
    })();
    this.running = { stop, loop };
    return this;
  }

  async stop(): Promise<void> {
    const running = this.running;
    this.running = undefined;
    running?.stop.abort();
    await running?.loop;
  }

  /** The samples kept, oldest first. */
  get samples(): readonly AofSample[] {
    return this.history;
  }

  /**
   * The newest sample taken at or before `ms` (clock time): what the file held then, or a little
   * less (up to one sampling interval), never more. Undefined when tracking started later than `ms`.
   */
  sizeAt(ms: number): AofSample | undefined {
    for (let i = this.history.length - 1; i >= 0; i--) {
      const sample = this.history[i]!;
      if (sample.at <= ms) return sample;
    }
    return undefined;
  }

  /** The incremental file Redis appends to now, from the manifest on disk. */
  currentFile(): string {
    const file = currentIncrFile(readFileSync(this.manifestPath, 'utf8'));
    if (file === undefined) throw new Error(`${this.manifestPath} lists no incremental AOF file`);
    return join(this.appendDir, file);
  }

  private async sample(): Promise<AofSample | undefined> {
    try {
      const name = currentIncrFile(await readFile(this.manifestPath, 'utf8'));
      if (name === undefined) return undefined;
      const file = join(this.appendDir, name);
      const { size } = await stat(file);
      // Timed after the read, so the size never exceeds what the file held at `at`.
      const sample = { at: this.clock.now(), file, size };
      this.remember(sample);
      return sample;
    } catch (error) {
      // Before Redis created its AOF, or while a rewrite swaps files.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  private remember(sample: AofSample): void {
    this.history.push(sample);
    // Drop samples older than the horizon, but keep the newest of them so sizeAt(horizon) works.
    const horizon = sample.at - this.historyMs;
    while (this.history.length > 1 && this.history[1]!.at <= horizon) this.history.shift();
  }
}

/**
 * The last `type i` entry of a Redis 7 AOF manifest: one `file <name> seq <n> type <b|h|i>` line
 * per file; Redis quotes a name with unusual characters (sdscatrepr), so quoted tokens are read too.
 */
export function currentIncrFile(manifest: string): string | undefined {
  let current: string | undefined;
  for (const line of manifest.split('\n')) {
    const tokens = [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map(([, quoted, bare]) =>
      quoted === undefined ? bare! : quoted.replace(/\\(.)/g, '$1'),
    );
    const entry = new Map<string, string>();
    for (let i = 0; i + 1 < tokens.length; i += 2) entry.set(tokens[i]!, tokens[i + 1]!);
    const file = entry.get('file');
    if (file !== undefined && entry.get('type') === 'i') current = file;
  }
  return current;
}

export interface PowerCutOptions {
  /** What the OS had not fsynced yet: ~1000 ms with `appendfsync everysec`, up to ~2000 when an fsync is slow. */
  lossWindowMs?: number;
}

export interface PowerCutResult {
  /** Bytes cut off the end of the incremental AOF file. */
  truncatedBytes: number;
  /** The incremental AOF file that was truncated (absolute path). */
  file: string;
  /** Clock time of the cut. */
  cutAt: number;
}

/**
 * A power cut on the device, as Redis's data sees it (docs/delivery-guarantee.md §8). SIGKILL alone loses nothing,
 * because Redis writes the AOF before it replies; what a power cut loses is what the OS had not
 * fsynced. So: SIGKILL redis-server, then cut its current incremental AOF file back to the size it
 * had `lossWindowMs` before the cut. If an AOF rewrite switched files since then, the whole new
 * incremental file counts as unsynced and is emptied (the rewrite fsyncs the new base itself).
 *
 * The caller kills the device's service processes at the same moment (e.g. in a `Promise.all`)
 * and restarts Redis afterwards. Redis 7.0 loads the truncated file: with `aof-load-truncated yes`
 * (the default) a command cut short at the end of the last incremental file is dropped, the file
 * is truncated to the last complete command, and Redis logs "AOF ... loaded anyway".
 */
export async function powerCut(redis: Pick<RedisServer, 'kill'>, tracker: AofSizeTracker, options: PowerCutOptions = {}): Promise<PowerCutResult> {
  const lossWindowMs = options.lossWindowMs ?? 1000;
  const cutAt = tracker.clock.now();
  const before = tracker.sizeAt(cutAt - lossWindowMs);
  if (before === undefined) {
    throw new Error(`power cut: the AOF tracker has no sample from ${lossWindowMs} ms ago; start it at least that long before the cut`);
  }
  await redis.kill();
  const file = tracker.currentFile();
  const sizeNow = statSync(file).size;
  const keep = before.file === file ? Math.min(before.size, sizeNow) : 0;
  truncateSync(file, keep);
  return { truncatedBytes: sizeNow - keep, file, cutAt };
}
