import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerProcess } from '../containers/container-process.ts';
import { IMAGES } from '../containers/images.ts';
import { containerTemplateDataDir, mariaDbContainerSpec } from '../containers/mariadb-container.ts';
import { notFoundMessage, type ServiceBackend } from '../containers/provider.ts';
import { findBinary, installHint } from './binaries.ts';
import { LocalServer, type LocalServerOptions, type ServiceInfo } from './local-server.ts';
import { connect, INIT_ARGS, publishTemplate, SERVER_ARGS, USER_ARGS, waitUntilReady } from './mariadb-common.ts';
import { ManagedProcess } from './managed-process.ts';
import type { ServerRun } from './server-run.ts';

/** `dir` holds the datadir, socket and log; `port` is never 3306, the machine's own MariaDB's. */
export interface MariaDbServerOptions extends LocalServerOptions {
  /** Database created after start-up (`CREATE DATABASE IF NOT EXISTS`); `iot` by default. */
  database?: string;
  /** Extra `mariadbd` options, e.g. `['--max-connections=20']`. */
  extraArgs?: readonly string[];
  readyTimeoutMs?: number;
}

const MARIADB_SERVICE: ServiceInfo = {
  binary: 'mariadbd',
  image: IMAGES.mariadb,
  installed: () => findBinary('mariadbd') !== undefined && findBinary('mariadb-install-db') !== undefined,
  installHint: () => installHint('mariadb-server', 'install MariaDB 10.11 or newer'),
};

/**
 * A real mariadbd on loopback with its own datadir, socket and port. The datadir is copied from a
 * template initialised once per mariadbd version (see {@link templateDataDir}), so a new server
 * starts in well under a second. Never touches the machine's MariaDB on 3306. `kill()` + `start()`
 * on the same handle simulates a crash and restart: same datadir, same port, InnoDB recovers.
 * As a container it is the official image with the same options, `dataDir` bind-mounted as its
 * datadir and copied from a template the image's entrypoint initialised (containers/mariadb-container.ts).
 */
export class MariaDbServer extends LocalServer {
  readonly database: string;
  protected readonly displayName = 'mariadbd';
  protected readonly service = MARIADB_SERVICE;
  /** InnoDB flushes at a clean stop; give it time. */
  protected override readonly stopTimeoutMs = 30_000;
  private readonly options: MariaDbServerOptions;

  constructor(options: MariaDbServerOptions = {}) {
    if (options.port === 3306) throw new Error('MariaDbServer must not use port 3306 (the machine may run its own MariaDB there)');
    super('mariadb', options);
    this.options = options;
    this.database = options.database ?? 'iot';
    if (!/^[A-Za-z0-9_]{1,64}$/.test(this.database)) throw new Error(`invalid database name ${JSON.stringify(this.database)}`);
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  /** The Unix socket of a local mariadbd (a container's is inside it). */
  get socketPath(): string {
    return join(this.dir, 'mysqld.sock');
  }

  /** `mariadb://root@127.0.0.1:<port>/<database>`: root has no password on a test server. */
  get url(): string {
    return `mariadb://root@${this.host}:${this.port}/${this.database}`;
  }

  /** The first start copies the template datadir; later ones (a restart) find the data there. */
  protected override async prepare(backend: ServiceBackend): Promise<void> {
    if (existsSync(this.dataDir)) return;
    const template = backend === 'containers' ? await containerTemplateDataDir() : templateDataDir();
    execFileSync('cp', ['-a', template, this.dataDir]);
  }

  protected async ready(port: number, proc: ServerRun): Promise<void> {
    await waitUntilReady(this.host, port, proc, this.options.readyTimeoutMs ?? 30_000);
    await this.createDatabaseOn(port, this.database);
  }

  protected portTaken(output: string): boolean {
    return /Address already in use|Bind on TCP\/IP port/.test(output);
  }

  private tmpDir(): string {
    const dir = join(this.dir, 'tmp');
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  protected spawn(port: number): ManagedProcess {
    const args = [
      '--no-defaults',
      `--datadir=${this.dataDir}`,
      `--port=${port}`,
      `--bind-address=${this.host}`,
      `--socket=${this.socketPath}`,
      `--pid-file=${join(this.dir, 'mysqld.pid')}`,
      // A private tmpdir: mariadbd deletes leftover `#sql*` files in its tmpdir at start-up, which
      // in a shared /tmp would be the live temporary tables of another test server.
      `--tmpdir=${this.tmpDir()}`,
      ...USER_ARGS,
      ...SERVER_ARGS,
      ...(this.options.extraArgs ?? []),
    ];
    const command = findBinary('mariadbd') ?? 'mariadbd';
    return new ManagedProcess({ name: `mariadbd:${port}`, command, args, cwd: this.dir, logFile: join(this.dir, 'mariadbd.log') });
  }

  /** The image's mariadbd with the same options; the datadir is a bind mount of `dataDir`. */
  protected spawnContainer(port: number): ContainerProcess {
    return new ContainerProcess(
      mariaDbContainerSpec({ name: `mariadbd:${port}`, dataDir: this.dataDir, hostPort: port, extraArgs: this.options.extraArgs ?? [], logFile: join(this.dir, 'mariadbd.log') }),
    );
  }

  /**
   * Creates another database on the running server (utf8mb4, like the default one) if it does not
   * exist, e.g. one per test for isolation. @returns its URL.
   */
  async createDatabase(name: string): Promise<string> {
    await this.createDatabaseOn(this.port, name);
    return `mariadb://root@${this.host}:${this.port}/${name}`;
  }

  private async createDatabaseOn(port: number, name: string): Promise<void> {
    if (!/^[A-Za-z0-9_]{1,64}$/.test(name)) throw new Error(`invalid database name ${JSON.stringify(name)}`);
    const connection = await connect({ host: this.host, port, connectTimeout: 5_000 });
    try {
      await connection.query(`CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    } finally {
      await connection.end();
    }
  }
}

export async function startMariaDbServer(options: MariaDbServerOptions = {}): Promise<MariaDbServer> {
  return new MariaDbServer(options).start();
}

let cachedTemplate: string | undefined;

/**
 * An initialised datadir to copy from, one per mariadbd version and set of init options, kept in
 * the OS temp dir. Initialising takes a while and is the same every time; copying is quick.
 * Parallel test workers may race to create it: each initialises under its own temp name and
 * renames it into place, and a loser (the rename fails because the target exists) discards its
 * copy and uses the winner's, so nobody ever copies a half-initialised template.
 */
export function templateDataDir(): string {
  if (cachedTemplate !== undefined && existsSync(cachedTemplate)) return cachedTemplate;
  const version = mariadbdVersion();
  const initArgs = INIT_ARGS;
  const key = createHash('sha256').update(JSON.stringify([version, initArgs])).digest('hex').slice(0, 12);
  const target = join(tmpdir(), `iot-mariadb-template-${version.replace(/[^A-Za-z0-9.+-]/g, '_')}-${key}`);
  if (!existsSync(target)) {
    const work = mkdtempSync(`${target}.tmp-`);
    try {
      const dataDir = join(work, 'data');
      try {
        // Its own tmpdir: the bootstrap server's temporary tables of two racing initialisations
        // would otherwise share TMPDIR (seen failing as "Unknown table 'mysql.tmp_user_sys'").
        const tmp = join(work, 'tmp');
        mkdirSync(tmp);
        execFileSync(findBinary('mariadb-install-db') ?? 'mariadb-install-db', [...initArgs, `--datadir=${dataDir}`, `--tmpdir=${tmp}`], { cwd: work, stdio: 'pipe' });
      } catch (error) {
        const output = error instanceof Error && 'stderr' in error ? String(error.stderr) : '';
        throw new Error(`mariadb-install-db failed: ${error instanceof Error ? error.message : String(error)}\n${output}`);
      }
      publishTemplate(dataDir, target);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  cachedTemplate = target;
  return target;
}

/** e.g. `10.11.19-MariaDB-0+deb12u1`; also tells a missing installation early and clearly. */
function mariadbdVersion(): string {
  let text: string;
  try {
    text = execFileSync(findBinary('mariadbd') ?? 'mariadbd', ['--version'], { encoding: 'utf8' });
  } catch {
    throw new Error(notFoundMessage({ binary: MARIADB_SERVICE.binary, image: MARIADB_SERVICE.image, installHint: MARIADB_SERVICE.installHint() }));
  }
  const match = /Ver\s+(\S+)/.exec(text);
  return match?.[1] ?? text.trim();
}
