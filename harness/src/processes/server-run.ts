import { createWriteStream, type WriteStream } from 'node:fs';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * One run of a server, however it runs: an OS process (ManagedProcess) or a container
 * (containers/container-process.ts). What LocalServer needs to start, probe, stop and crash it.
 */
export interface ServerRun {
  readonly name: string;
  readonly pid: number | undefined;
  readonly running: boolean;
  readonly exited: Promise<ExitInfo>;
  /** Resolves once the run is under way (a container has been started), if that takes a while. */
  readonly launched?: Promise<void>;
  waitForLine(predicate: (line: string) => boolean, timeoutMs: number, stream?: 'stdout' | 'stderr' | 'any'): Promise<string>;
  waitFor<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T>;
  /** Sends `signal` and waits for the exit; escalates to SIGKILL after `timeoutMs`. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitInfo>;
  /** SIGKILL, as in a crash. */
  kill(): Promise<ExitInfo>;
  /** SIGSTOP: sockets stay open, nothing answers. */
  freeze(): void;
  /** SIGCONT after {@link freeze}. */
  thaw(): void;
  tail(count?: number): string;
}

/**
 * The output side of a {@link ServerRun}: stdout and stderr kept line by line (and appended to a
 * log file if asked), waits on them, and the exit. Subclasses feed lines and report the exit.
 */
export abstract class RunOutput {
  readonly name: string;
  readonly stdoutLines: string[] = [];
  readonly stderrLines: string[] = [];
  readonly exited: Promise<ExitInfo>;
  protected exitInfo: ExitInfo | undefined;
  private readonly lineWaiters = new Set<() => void>();
  private readonly logStream: WriteStream | undefined;
  private resolveExit!: (info: ExitInfo) => void;

  constructor(name: string, logFile: string | undefined) {
    this.name = name;
    this.logStream = logFile === undefined ? undefined : createWriteStream(logFile, { flags: 'a' });
    this.exited = new Promise((resolve) => {
      this.resolveExit = resolve;
    });
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** Resolves with the first stdout/stderr line matching `predicate`, including lines already seen. */
  waitForLine(predicate: (line: string) => boolean, timeoutMs: number, stream: 'stdout' | 'stderr' | 'any' = 'any'): Promise<string> {
    const lines = () =>
      stream === 'stdout' ? this.stdoutLines : stream === 'stderr' ? this.stderrLines : [...this.stdoutLines, ...this.stderrLines];
    return this.waitFor(() => lines().find(predicate), timeoutMs, `a matching output line from ${this.name}`);
  }

  /** Resolves with the first non-undefined result of `probe`, re-checked on each output line. */
  waitFor<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = probe();
        if (found !== undefined) {
          finish();
          resolve(found);
        } else if (!this.running) {
          finish();
          reject(new Error(`${this.name} exited (${JSON.stringify(this.exitInfo)}) before ${what}\n${this.tail()}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.tail()}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.lineWaiters.delete(check);
      };
      this.lineWaiters.add(check);
      check();
    });
  }

  /** The last lines of output, for error messages. */
  tail(count = 20): string {
    const lines = [...this.stdoutLines.slice(-count), ...this.stderrLines.slice(-count).map((l) => `stderr: ${l}`)];
    return lines.join('\n');
  }

  protected addLine(line: string, stream: 'stdout' | 'stderr'): void {
    (stream === 'stdout' ? this.stdoutLines : this.stderrLines).push(line);
    if (this.logStream !== undefined && !this.logStream.writableEnded) this.logStream.write(`${line}\n`);
    this.notify();
  }

  /** Records the exit (once) and wakes every waiter. */
  protected finished(info: ExitInfo): void {
    if (this.exitInfo !== undefined) return;
    this.exitInfo = info;
    this.notify();
    this.resolveExit(info);
  }

  protected endLog(): void {
    this.logStream?.end();
  }

  private notify(): void {
    for (const waiter of [...this.lineWaiters]) waiter();
  }
}
