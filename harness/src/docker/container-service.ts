import { firstMatch, type LogRecord, parseLogLine } from '../processes/service-process.ts';
import { type ContainerSpec, createContainer, killTogether, pauseContainer, removeContainers, startContainer, stopContainer, unpauseContainer } from './containers.ts';
import { LogFollower } from './log-follower.ts';

export interface ContainerServiceOptions {
  /**
   * Resolves once the service serves after a start; `since` is the index in `logs()` of the first
   * record of this start, so a restart waits for its own ready line, not the last run's.
   */
  ready?: (service: ContainerService, since: number) => Promise<void>;
}

/**
 * One container with the surface the steps use on a service process: parsed JSON log lines
 * (synchronous `logs()`, `waitForLog`), kill, start, stop, freeze and thaw. Unlike a process, it
 * stays the same container through restarts (`docker kill` then `docker start`), with the same
 * file system, networks and published ports, and its log holds every start's lines in order.
 */
export class ContainerService {
  /** Short name for errors and reports, e.g. `dev-1-sensor`. */
  readonly name: string;
  readonly spec: ContainerSpec;
  private readonly options: ContainerServiceOptions;
  private containerId: string | undefined;
  private follower: LogFollower | undefined;
  private readonly parsed: LogRecord[] = [];
  private parsedLines = 0;
  private paused = false;

  constructor(name: string, spec: ContainerSpec, options: ContainerServiceOptions = {}) {
    this.name = name;
    this.spec = spec;
    this.options = options;
  }

  /** The container's id, once created. */
  get id(): string {
    if (this.containerId === undefined) throw new Error(`${this.name}: the container has not been created`);
    return this.containerId;
  }

  get created(): boolean {
    return this.containerId !== undefined;
  }

  /** While the container runs (its log is followed until it stops). */
  get running(): boolean {
    return this.follower?.following ?? false;
  }

  /** Creates the container (networks attached, not started). */
  async create(): Promise<this> {
    if (this.containerId === undefined) {
      this.containerId = await createContainer(this.spec);
      this.follower = new LogFollower(this.containerId);
    }
    return this;
  }

  /** Starts (or restarts) the container and waits until it is ready. */
  async start(): Promise<this> {
    await this.create();
    const follower = this.follower!;
    if (follower.following) return this;
    // The last run's lines first, so this run's are counted after them.
    await follower.drained();
    const since = this.logs().length;
    await startContainer(this.id);
    follower.follow();
    await this.options.ready?.(this, since);
    return this;
  }

  /** SIGKILL, as in a crash; resolves once the container stopped and its last lines are in. */
  async kill(): Promise<void> {
    if (this.containerId === undefined) return;
    this.paused = false;
    await killTogether(this.containerId);
    await this.follower!.drained();
  }

  /** A clean stop: `docker stop` (SIGTERM, SIGKILL after `timeoutMs`); resolves once stopped. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.containerId === undefined || !this.running) return;
    if (this.paused) await this.thaw();
    await stopContainer(this.containerId, Math.ceil(timeoutMs / 1000));
    await this.follower!.drained();
  }

  /** `docker pause`: every process of the container freezes with its sockets open. */
  async freeze(): Promise<void> {
    await pauseContainer(this.id);
    this.paused = true;
  }

  /** `docker unpause` after {@link freeze}. */
  async thaw(): Promise<void> {
    if (!this.paused) return;
    await unpauseContainer(this.id);
    this.paused = false;
  }

  /** Every stdout line of every start that parsed as a JSON object, in order. */
  logs(): LogRecord[] {
    const lines = this.follower?.lines.stdout ?? [];
    for (; this.parsedLines < lines.length; this.parsedLines++) {
      const record = parseLogLine(lines[this.parsedLines]!);
      if (record !== undefined) this.parsed.push(record);
    }
    return this.parsed;
  }

  /** Resolves with the first record from index `from` on matching `predicate` (already seen ones included). */
  waitForLog(predicate: (record: LogRecord) => boolean, timeoutMs: number, what = 'a matching log record', from = 0): Promise<LogRecord> {
    return this.waitFor(firstMatch(() => this.logs(), predicate, from), timeoutMs, what);
  }

  /** Resolves with the first non-undefined result of `probe`, re-checked on each line; rejects if the container stops first. */
  waitFor<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      let unsubscribe = () => {};
      const finish = () => {
        clearTimeout(timer);
        unsubscribe();
      };
      const check = () => {
        const found = probe();
        if (found !== undefined) {
          finish();
          resolve(found);
        } else if (!this.running) {
          finish();
          reject(new Error(`${this.name} is not running (it stopped before ${what})\n${this.tail()}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} from ${this.name}\n${this.tail()}`));
      }, timeoutMs);
      if (this.follower !== undefined) unsubscribe = this.follower.onChange(check);
      check();
    });
  }

  /** The last lines of output, for error messages. */
  tail(count = 20): string {
    const lines = this.follower?.lines ?? { stdout: [], stderr: [] };
    return [...lines.stdout.slice(-count), ...lines.stderr.slice(-count).map((l) => `stderr: ${l}`)].join('\n');
  }

  /** Stops following the log (the lines so far stay); before a removal. */
  async closeLog(): Promise<void> {
    await this.follower?.close();
  }

  /** Removes the container (a running or paused one too) and stops following it. */
  async remove(): Promise<void> {
    await this.closeLog();
    if (this.containerId !== undefined) await removeContainers([this.containerId]);
  }
}
