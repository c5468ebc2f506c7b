import { findFreePort } from './free-port.ts';
import type { ManagedProcess } from './managed-process.ts';
import { makeTempDir } from './temp-dir.ts';

export interface LocalServerOptions {
  /** Working directory; a fresh temp dir (removed by dispose) when omitted. */
  dir?: string;
  /** Port; a free one when omitted. */
  port?: number;
}

/**
 * A server binary run for tests and simulations: on loopback, on a free port, in its own
 * directory, never on a machine's shared service. Once started, it keeps its port and directory,
 * so `kill()` then `start()` is a crash and restart with the same data.
 */
export abstract class LocalServer {
  readonly host = '127.0.0.1';
  readonly dir: string;
  protected proc: ManagedProcess | undefined;
  private portNumber: number | undefined;
  private readonly removeDir: (() => void) | undefined;

  /** Shown in errors, e.g. "redis-server". */
  protected abstract readonly displayName: string;
  /** How long a clean stop may take before SIGKILL. */
  protected readonly stopTimeoutMs: number = 10_000;

  constructor(tempPrefix: string, options: LocalServerOptions) {
    if (options.dir === undefined) {
      const temp = makeTempDir(tempPrefix);
      this.dir = temp.path;
      this.removeDir = temp.remove;
    } else {
      this.dir = options.dir;
      this.removeDir = undefined;
    }
    this.portNumber = options.port;
  }

  /** Starts the process on `port` (writing whatever config it needs). */
  protected abstract spawn(port: number): ManagedProcess;
  /** Resolves once the server serves on `port`; rejects if it never does. */
  protected abstract ready(port: number, proc: ManagedProcess): Promise<void>;
  /** Whether a failed start was a port another process took between probing and binding. */
  protected abstract portTaken(output: string): boolean;

  get port(): number {
    if (this.portNumber === undefined || this.proc === undefined) throw new Error(`${this.displayName} has not been started`);
    return this.portNumber;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get running(): boolean {
    return this.proc?.running ?? false;
  }

  /** Starts (or restarts) the server, keeping the same port once one was chosen. */
  async start(): Promise<this> {
    if (this.running) return this;
    for (let attempt = 1; ; attempt++) {
      const port = this.portNumber ?? (await findFreePort());
      const proc = this.spawn(port);
      try {
        await this.ready(port, proc);
        this.portNumber = port;
        this.proc = proc;
        return this;
      } catch (error) {
        await proc.kill();
        // Retry on another port only if none was fixed: a restart after a crash must keep its port.
        if (!this.portTaken(proc.tail(40)) || this.portNumber !== undefined || attempt >= 5) throw error;
      }
    }
  }

  /** Clean shutdown (SIGTERM). */
  async stop(): Promise<void> {
    await this.proc?.stop('SIGTERM', this.stopTimeoutMs);
  }

  /** SIGKILL, as in a crash. */
  async kill(): Promise<void> {
    await this.proc?.kill();
  }

  /** SIGSTOP: sockets stay open, nothing answers. */
  freeze(): void {
    this.proc?.freeze();
  }

  /** SIGCONT after {@link freeze}. */
  thaw(): void {
    this.proc?.thaw();
  }

  /** Kills the server (a frozen one too) and deletes its directory if this handle created it. */
  async dispose(): Promise<void> {
    if (this.proc?.running) this.proc.thaw();
    await this.proc?.kill();
    this.removeDir?.();
  }

  /** The server's recent output, for failure messages. */
  output(): string {
    return this.proc?.tail(40) ?? '';
  }
}
