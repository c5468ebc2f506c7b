import { ensureImage } from '../containers/engine.ts';
import { chooseBackend, type ServiceBackend, type ServicesProvider, servicesProviderFromEnv } from '../containers/provider.ts';
import { findFreePort } from './free-port.ts';
import type { ServerRun } from './server-run.ts';
import { makeTempDir } from './temp-dir.ts';

export interface LocalServerOptions {
  /** Working directory; a fresh temp dir (removed by dispose) when omitted. */
  dir?: string;
  /** Port; a free one when omitted. */
  port?: number;
  /**
   * The installed binary (`processes`), the official image through testcontainers
   * (`containers`) or whichever is available (`auto`); IOT_TEST_SERVICES, else `auto`, when omitted.
   */
  provider?: ServicesProvider;
}

/** A server's binary and image, for choosing where it runs and for the errors when neither can. */
export interface ServiceInfo {
  binary: string;
  /** The official image tag, e.g. `redis:7-bookworm`. */
  image: string;
  /** Whether the binary (and whatever else the process version needs) is installed here. */
  installed(): boolean;
  /** e.g. `install it with: sudo apt-get install redis-server`. */
  installHint(): string;
}

/** How Docker says a published port is taken: by another container, or by a host process. */
const CONTAINER_PORT_TAKEN = /port is already allocated|address already in use/;

/**
 * A server binary run for tests and simulations: on loopback, on a free port, in its own
 * directory, never on a machine's shared service. Once started, it keeps its port and directory,
 * so `kill()` then `start()` is a crash and restart with the same data. It runs as a local
 * process or, when the binary is missing or IOT_TEST_SERVICES asks for it, as a container whose
 * data lives in a bind mount of the same directory, so both behave the same to a test.
 */
export abstract class LocalServer {
  readonly host = '127.0.0.1';
  readonly dir: string;
  protected proc: ServerRun | undefined;
  private portNumber: number | undefined;
  private readonly removeDir: (() => void) | undefined;
  private readonly requested: ServicesProvider | undefined;
  private chosen: ServiceBackend | undefined;

  /** Shown in errors, e.g. "redis-server". */
  protected abstract readonly displayName: string;
  protected abstract readonly service: ServiceInfo;
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
    this.requested = options.provider;
  }

  /** Starts the process on `port` (writing whatever config it needs). */
  protected abstract spawn(port: number): ServerRun;
  /** Starts the server's container with its port published on `port` of 127.0.0.1. */
  protected abstract spawnContainer(port: number): ServerRun;
  /** Resolves once the server serves on `port`; rejects if it never does. */
  protected abstract ready(port: number, proc: ServerRun): Promise<void>;
  /** Whether a failed start was a port another process took between probing and binding. */
  protected abstract portTaken(output: string): boolean;
  /** What must exist before a start on `backend`, e.g. a data directory. */
  protected async prepare(_backend: ServiceBackend): Promise<void> {}

  get port(): number {
    if (this.portNumber === undefined || this.proc === undefined) throw new Error(`${this.displayName} has not been started`);
    return this.portNumber;
  }

  /** The server's process id (a container's on this host); undefined before the first start. */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get running(): boolean {
    return this.proc?.running ?? false;
  }

  /** Where it runs, chosen at the first start and kept for every restart; undefined before. */
  get provider(): ServiceBackend | undefined {
    return this.chosen;
  }

  /** Starts (or restarts) the server, keeping the same port once one was chosen. */
  async start(): Promise<this> {
    if (this.running) return this;
    const backend = await this.backend();
    // Pulled (when missing) before the ready timeout starts counting.
    if (backend === 'containers') await ensureImage(this.service.image);
    await this.prepare(backend);
    for (let attempt = 1; ; attempt++) {
      const port = this.portNumber ?? (await findFreePort());
      const proc = backend === 'containers' ? this.spawnContainer(port) : this.spawn(port);
      try {
        await proc.launched;
        await this.ready(port, proc);
        this.portNumber = port;
        this.proc = proc;
        return this;
      } catch (error) {
        await proc.kill();
        const output = proc.tail(40);
        const taken = backend === 'containers' ? CONTAINER_PORT_TAKEN.test(output) : this.portTaken(output);
        // Retry on another port only if none was fixed: a restart after a crash must keep its port.
        if (!taken || this.portNumber !== undefined || attempt >= 5) throw error;
      }
    }
  }

  /** Clean shutdown (SIGTERM). */
  async stop(): Promise<void> {
    await this.proc?.stop('SIGTERM', this.stopTimeoutMs);
  }

  /** SIGKILL, as in a crash (`docker kill` for a container). */
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

  /** Kills the server (a frozen one too; a container is removed) and deletes its directory if this handle created it. */
  async dispose(): Promise<void> {
    if (this.proc?.running) this.proc.thaw();
    await this.proc?.kill();
    this.removeDir?.();
  }

  /** The server's recent output, for failure messages. */
  output(): string {
    return this.proc?.tail(40) ?? '';
  }

  private async backend(): Promise<ServiceBackend> {
    if (this.chosen !== undefined) return this.chosen;
    const { binary, image } = this.service;
    const installed = this.service.installed();
    this.chosen = await chooseBackend(this.requested ?? servicesProviderFromEnv(), {
      binary,
      image,
      binaryFound: installed,
      installHint: this.service.installHint(),
    });
    return this.chosen;
  }
}
