import { existsSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Broker } from './broker-process.ts';
import { findFreePort } from './free-port.ts';
import { ManagedProcess } from './managed-process.ts';
import { makeTempDir } from './temp-dir.ts';

export interface MosquittoServerOptions {
  /** Port; a free one when omitted. */
  port?: number;
  /**
   * mosquitto.conf directives without a `listener` line (the server adds its own on loopback),
   * e.g. the backend's rendered policy (`writeMosquittoFiles(...).conf`). Without it: a plain
   * local broker that admits anonymous clients.
   */
  conf?: string;
  readyTimeoutMs?: number;
}

/** Mosquitto's default when nothing else is asked for: an open local development broker. */
const DEFAULT_CONF = ['allow_anonymous true', 'persistence false', ''].join('\n');

/**
 * A real Mosquitto 2.x on loopback, in its own temp directory. Never touches a broker on the
 * standard port. `kill()` + `start()` restarts on the same port.
 */
export class MosquittoServer implements Broker {
  readonly host = '127.0.0.1';
  readonly dir: string;
  private readonly removeDir: () => void;
  private readonly options: MosquittoServerOptions;
  private portNumber: number | undefined;
  private proc: ManagedProcess | undefined;

  constructor(options: MosquittoServerOptions = {}) {
    this.options = options;
    const temp = makeTempDir('mosquitto');
    this.dir = temp.path;
    this.removeDir = temp.remove;
    this.portNumber = options.port;
  }

  get port(): number {
    if (this.portNumber === undefined || this.proc === undefined) throw new Error('mosquitto has not been started');
    return this.portNumber;
  }

  get url(): string {
    return `mqtt://${this.host}:${this.port}`;
  }

  get running(): boolean {
    return this.proc?.running ?? false;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  async start(): Promise<this> {
    const command = findMosquitto();
    for (let attempt = 1; ; attempt++) {
      const port = this.portNumber ?? (await findFreePort());
      const confPath = join(this.dir, 'mosquitto-under-test.conf');
      writeFileSync(confPath, this.conf(port));
      const proc = new ManagedProcess({ name: `mosquitto:${port}`, command, args: ['-c', confPath], cwd: this.dir, logFile: join(this.dir, 'mosquitto.log') });
      try {
        // Mosquitto logs "mosquitto version X running" once its listeners are open.
        await proc.waitForLine((line) => / running$/.test(line), this.options.readyTimeoutMs ?? 15_000);
        this.portNumber = port;
        this.proc = proc;
        return this;
      } catch (error) {
        await proc.kill();
        const portTaken = proc.tail().includes('Address already in use');
        if (!portTaken || this.options.port !== undefined || this.proc !== undefined || attempt >= 5) throw error;
      }
    }
  }

  async stop(): Promise<void> {
    await this.proc?.stop('SIGTERM');
  }

  async kill(): Promise<void> {
    await this.proc?.kill();
  }

  freeze(): void {
    this.proc?.freeze();
  }

  thaw(): void {
    this.proc?.thaw();
  }

  async dispose(): Promise<void> {
    await this.proc?.kill();
    this.removeDir();
  }

  /** Mosquitto's own log, for failure messages. */
  output(): string {
    return this.proc?.tail(40) ?? '';
  }

  private conf(port: number): string {
    return [
      `listener ${port} ${this.host}`,
      // Started as root, Mosquitto switches to the `mosquitto` user, which cannot read our temp dir.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      // stderr: Mosquitto block-buffers stdout into a pipe, which would hide the ready line.
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      this.options.conf ?? DEFAULT_CONF,
    ].join('\n');
  }
}

export async function startMosquittoServer(options: MosquittoServerOptions = {}): Promise<MosquittoServer> {
  return new MosquittoServer(options).start();
}

/** Debian installs mosquitto in /usr/sbin, which is not on every user's PATH. */
function findMosquitto(): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    if (dir !== '' && existsSync(join(dir, 'mosquitto'))) return join(dir, 'mosquitto');
  }
  const hint = existsSync('/usr/bin/apt-get') ? 'install it with: sudo apt-get install mosquitto' : 'install Mosquitto 2';
  throw new Error(`mosquitto was not found on PATH or in /usr/sbin; ${hint}`);
}
