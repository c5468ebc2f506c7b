import { existsSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Broker } from './broker-process.ts';
import { LocalServer } from './local-server.ts';
import { ManagedProcess } from './managed-process.ts';

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
export class MosquittoServer extends LocalServer implements Broker {
  protected readonly displayName = 'mosquitto';
  private readonly options: MosquittoServerOptions;

  constructor(options: MosquittoServerOptions = {}) {
    super('mosquitto', { ...(options.port === undefined ? {} : { port: options.port }) });
    this.options = options;
  }

  get url(): string {
    return `mqtt://${this.host}:${this.port}`;
  }

  protected spawn(port: number): ManagedProcess {
    const confPath = join(this.dir, 'mosquitto-under-test.conf');
    writeFileSync(confPath, this.conf(port));
    return new ManagedProcess({ name: `mosquitto:${port}`, command: findMosquitto(), args: ['-c', confPath], cwd: this.dir, logFile: join(this.dir, 'mosquitto.log') });
  }

  /** Mosquitto logs "mosquitto version X running" once its listeners are open. */
  protected async ready(_port: number, proc: ManagedProcess): Promise<void> {
    await proc.waitForLine((line) => / running$/.test(line), this.options.readyTimeoutMs ?? 15_000);
  }

  protected portTaken(output: string): boolean {
    return output.includes('Address already in use');
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
