import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContainerProcess } from '../containers/container-process.ts';
import { IMAGES } from '../containers/images.ts';
import { containerConf } from '../containers/mosquitto-container.ts';
import { notFoundMessage, type ServicesProvider } from '../containers/provider.ts';
import { findBinary, installHint } from './binaries.ts';
import type { Broker } from './broker-process.ts';
import { LocalServer, type ServiceInfo } from './local-server.ts';
import { ManagedProcess } from './managed-process.ts';
import type { ServerRun } from './server-run.ts';

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
  /** Process or container; IOT_TEST_SERVICES, else `auto`, when omitted (LocalServerOptions.provider). */
  provider?: ServicesProvider;
}

/** Mosquitto's default when nothing else is asked for: an open local development broker. */
const DEFAULT_CONF = ['allow_anonymous true', 'persistence false', ''].join('\n');

const MOSQUITTO_SERVICE: ServiceInfo = {
  binary: 'mosquitto',
  image: IMAGES.mosquitto,
  installed: () => findBinary('mosquitto') !== undefined,
  installHint: () => installHint('mosquitto', 'install Mosquitto 2'),
};

const CONF_NAME = 'mosquitto-under-test.conf';
/** The official image's config directory; the server's directory is bind-mounted there. */
const CONTAINER_CONFIG = '/mosquitto/config';

/**
 * A real Mosquitto 2.x on loopback, in its own temp directory. Never touches a broker on the
 * standard port. `kill()` + `start()` restarts on the same port. As a container, the files its
 * configuration names (password file, ACL, ...) are mounted at the same paths.
 */
export class MosquittoServer extends LocalServer implements Broker {
  protected readonly displayName = 'mosquitto';
  protected readonly service = MOSQUITTO_SERVICE;
  private readonly options: MosquittoServerOptions;

  constructor(options: MosquittoServerOptions = {}) {
    super('mosquitto', { ...(options.port === undefined ? {} : { port: options.port }), ...(options.provider === undefined ? {} : { provider: options.provider }) });
    this.options = options;
  }

  get url(): string {
    return `mqtt://${this.host}:${this.port}`;
  }

  protected spawn(port: number): ManagedProcess {
    const confPath = join(this.dir, CONF_NAME);
    writeFileSync(confPath, this.conf(`listener ${port} ${this.host}`, this.options.conf ?? DEFAULT_CONF));
    return new ManagedProcess({ name: `mosquitto:${port}`, command: findMosquitto(), args: ['-c', confPath], cwd: this.dir, logFile: join(this.dir, 'mosquitto.log') });
  }

  protected spawnContainer(port: number): ContainerProcess {
    const { conf, binds } = containerConf(this.options.conf ?? DEFAULT_CONF);
    // Every interface of the container; the host publishes the port on 127.0.0.1 only.
    writeFileSync(join(this.dir, CONF_NAME), this.conf('listener 1883', conf));
    return new ContainerProcess({
      name: `mosquitto:${port}`,
      image: this.service.image,
      service: 'mosquitto',
      command: ['/usr/sbin/mosquitto', '-c', `${CONTAINER_CONFIG}/${CONF_NAME}`],
      binds: [{ source: this.dir, target: CONTAINER_CONFIG }, ...binds],
      publish: { containerPort: 1883, hostPort: port },
      logFile: join(this.dir, 'mosquitto.log'),
    });
  }

  /** Mosquitto logs "mosquitto version X running" once its listeners are open. */
  protected async ready(_port: number, proc: ServerRun): Promise<void> {
    await proc.waitForLine((line) => / running$/.test(line), this.options.readyTimeoutMs ?? 15_000);
  }

  protected portTaken(output: string): boolean {
    return output.includes('Address already in use');
  }

  private conf(listener: string, directives: string): string {
    return [
      listener,
      // Started as root, Mosquitto switches to the `mosquitto` user, which cannot read our temp dir.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      // stderr: Mosquitto block-buffers stdout into a pipe, which would hide the ready line.
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      directives,
    ].join('\n');
  }
}

export async function startMosquittoServer(options: MosquittoServerOptions = {}): Promise<MosquittoServer> {
  return new MosquittoServer(options).start();
}

/** Debian installs mosquitto in /usr/sbin, which is not on every user's PATH. */
function findMosquitto(): string {
  const found = findBinary('mosquitto');
  if (found !== undefined) return found;
  throw new Error(notFoundMessage({ ...MOSQUITTO_SERVICE, installHint: MOSQUITTO_SERVICE.installHint() }, 'on PATH or in /usr/sbin'));
}
