import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

export interface ProcessSpec {
  /** Short name used in errors and log file names. */
  name: string;
  command: string;
  args: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** If set, stdout and stderr are appended here as well. */
  logFile?: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Every process started through this module, so an exiting test run can take them all down. */
const live = new Set<ManagedProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort: a crashed test runner must not leave redis-servers behind.
  process.on('exit', () => {
    for (const p of live) p.child.kill('SIGKILL');
  });
}

/**
 * A child process the harness supervises: its output is kept line by line (stdout and stderr
 * separately) and can be waited on; it can be stopped, killed, frozen and thawed.
 */
export class ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly stdoutLines: string[] = [];
  readonly stderrLines: string[] = [];
  readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | undefined;
  private readonly lineWaiters = new Set<() => void>();
  private readonly logStream: WriteStream | undefined;

  constructor(spec: ProcessSpec) {
    installExitHook();
    this.name = spec.name;
    this.child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.logStream = spec.logFile === undefined ? undefined : createWriteStream(spec.logFile, { flags: 'a' });
    this.collect(this.child.stdout!, this.stdoutLines);
    this.collect(this.child.stderr!, this.stderrLines);
    live.add(this);
    this.exited = new Promise((resolve) => {
      const done = (info: ExitInfo) => {
        this.exitInfo = info;
        live.delete(this);
        this.notify();
        resolve(info);
      };
      this.child.once('exit', (code, signal) => done({ code, signal }));
      this.child.once('error', (error) => {
        this.stderrLines.push(`spawn failed: ${error.message}`);
        done({ code: -1, signal: null });
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
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

  /** Sends `signal` and waits for the exit; escalates to SIGKILL after `timeoutMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<ExitInfo> {
    if (!this.running) return this.exitInfo!;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
      this.logStream?.end();
    }
  }

  /** SIGKILL: the process gets no chance to clean up, as in a crash. */
  kill(): Promise<ExitInfo> {
    return this.stop('SIGKILL');
  }

  /** SIGSTOP: the process freezes with its sockets open. */
  freeze(): void {
    this.child.kill('SIGSTOP');
  }

  /** SIGCONT after {@link freeze}. */
  thaw(): void {
    this.child.kill('SIGCONT');
  }

  /** The last lines of output, for error messages. */
  tail(count = 20): string {
    const lines = [...this.stdoutLines.slice(-count), ...this.stderrLines.slice(-count).map((l) => `stderr: ${l}`)];
    return lines.join('\n');
  }

  private collect(stream: NodeJS.ReadableStream, into: string[]): void {
    const reader = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
    reader.on('line', (line) => {
      into.push(line);
      if (this.logStream !== undefined && !this.logStream.writableEnded) this.logStream.write(`${line}\n`);
      this.notify();
    });
  }

  private notify(): void {
    for (const waiter of [...this.lineWaiters]) waiter();
  }
}
