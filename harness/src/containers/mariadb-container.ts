import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from '../processes/free-port.ts';
import { INIT_ARGS, publishTemplate, SERVER_ARGS, waitUntilReady } from '../processes/mariadb-common.ts';
import { ContainerProcess, type ContainerSpec } from './container-process.ts';
import { engine } from './engine.ts';
import { IMAGES } from './images.ts';

/** The official image's data directory; the server's `dir/data` is bind-mounted there. */
const CONTAINER_DATA = '/var/lib/mysql';

/**
 * The process version's options, with the container's own paths. Socket and pid file go to the
 * container's /tmp, which is private to it (as the process version's tmpdir is) and writable
 * whatever uid the server runs as: the image's /run/mysqld belongs to its mysql user.
 */
function serverCommand(extraArgs: readonly string[]): string[] {
  return [
    'mariadbd',
    '--no-defaults',
    `--datadir=${CONTAINER_DATA}`,
    '--port=3306',
    // Every interface of the container; the host publishes the port on 127.0.0.1 only.
    '--bind-address=0.0.0.0',
    '--socket=/tmp/mysqld.sock',
    '--pid-file=/tmp/mysqld.pid',
    '--tmpdir=/tmp',
    ...SERVER_ARGS,
    ...extraArgs,
  ];
}

export interface MariaDbContainerOptions {
  name: string;
  /** Host directory mounted as the datadir, initialised already (see {@link containerTemplateDataDir}). */
  dataDir: string;
  hostPort: number;
  extraArgs?: readonly string[];
  binds?: ContainerSpec['binds'];
  logFile?: string;
}

/**
 * The image's entrypoint then runs mariadbd: as root it hands the datadir to the image's mysql
 * user first; as the caller's uid the files stay the caller's.
 */
export function mariaDbContainerSpec(options: MariaDbContainerOptions): ContainerSpec {
  return {
    name: options.name,
    image: IMAGES.mariadb,
    service: 'mariadb',
    command: serverCommand(options.extraArgs ?? []),
    binds: [{ source: options.dataDir, target: CONTAINER_DATA }, ...(options.binds ?? [])],
    publish: { containerPort: 3306, hostPort: options.hostPort },
    ...(options.logFile === undefined ? {} : { logFile: options.logFile }),
  };
}

/**
 * Root without a password from any host: the engine forwards the host's connections from outside
 * the container, where `root@localhost` (all mariadb-install-db makes) does not apply.
 */
const ROOT_FROM_ANYWHERE = ["CREATE USER IF NOT EXISTS 'root'@'%';", "GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;", ''].join('\n');

let cached: Promise<string> | undefined;

/**
 * A datadir to copy from, initialised in the image as the process version's template is
 * (mariadb-server.ts templateDataDir: the same mariadb-install-db options), one per image id and
 * uid, kept in the OS temp dir. Not the image's own first-start initialisation: that needs a
 * /run/mysqld the caller's uid can write, which not every image has. Racing workers each
 * initialise under a temp name and rename into place; a loser uses the winner's.
 */
export function containerTemplateDataDir(): Promise<string> {
  cached ??= makeTemplate().catch((error: unknown) => {
    cached = undefined;
    throw error;
  });
  return cached;
}

async function makeTemplate(): Promise<string> {
  const client = await engine();
  const { ImageName } = await import('testcontainers');
  const imageId = (await client.image.inspect(ImageName.fromString(IMAGES.mariadb))).Id;
  const key = createHash('sha256')
    .update(JSON.stringify([imageId, INIT_ARGS, serverCommand([]), ROOT_FROM_ANYWHERE, process.getuid?.()]))
    .digest('hex')
    .slice(0, 12);
  const target = join(tmpdir(), `iot-mariadb-container-template-${key}`);
  if (existsSync(target)) return target;
  const work = mkdtempSync(`${target}.tmp-`);
  try {
    const dataDir = join(work, 'data');
    mkdirSync(dataDir);
    const install = new ContainerProcess({
      name: 'mariadb-install-db',
      image: IMAGES.mariadb,
      service: 'mariadb-init',
      entrypoint: ['mariadb-install-db'],
      command: [...INIT_ARGS, `--datadir=${CONTAINER_DATA}`, '--tmpdir=/tmp'],
      binds: [{ source: dataDir, target: CONTAINER_DATA }],
      logFile: join(work, 'install.log'),
    });
    const installed = await install.exited;
    if (installed.code !== 0) throw new Error(`mariadb-install-db in ${IMAGES.mariadb} failed (${JSON.stringify(installed)})\n${install.tail(40)}`);

    // One start with an init file: it adds root@'%', and the query that proves readiness, made
    // from the host as root, proves that it did.
    writeFileSync(join(work, 'root.sql'), ROOT_FROM_ANYWHERE, { mode: 0o644 });
    const hostPort = await findFreePort();
    const first = new ContainerProcess(
      mariaDbContainerSpec({
        name: `mariadb-template:${hostPort}`,
        dataDir,
        hostPort,
        extraArgs: ['--init-file=/iot-init/root.sql'],
        binds: [{ source: join(work, 'root.sql'), target: '/iot-init/root.sql', readOnly: true }],
        logFile: join(work, 'first-start.log'),
      }),
    );
    try {
      await waitUntilReady('127.0.0.1', hostPort, first, 60_000);
      const exit = await first.stop('SIGTERM', 30_000);
      if (exit.code !== 0) throw new Error(`mariadbd did not stop cleanly after initialising its datadir (${JSON.stringify(exit)})\n${first.tail(40)}`);
    } finally {
      await first.kill();
    }
    publishTemplate(dataDir, target);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return target;
}
