import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from '../processes/free-port.ts';
import { SERVER_ARGS, waitUntilReady } from '../processes/mariadb-common.ts';
import { ContainerProcess, type ContainerSpec } from './container-process.ts';
import { engine } from './engine.ts';
import { IMAGES } from './images.ts';

/** The official image's data directory; the server's `dir/data` is bind-mounted there. */
const CONTAINER_DATA = '/var/lib/mysql';

/**
 * The process version's options, with the container's own paths. The socket and pid file go to a
 * tmpfs on /run/mysqld, writable whatever uid the server runs as (the image's /run/mysqld belongs
 * to its mysql user); the container's /tmp is private to it, as the process version's tmpdir is.
 */
function serverCommand(extraArgs: readonly string[]): string[] {
  return [
    'mariadbd',
    '--no-defaults',
    `--datadir=${CONTAINER_DATA}`,
    '--port=3306',
    // Every interface of the container; the host publishes the port on 127.0.0.1 only.
    '--bind-address=0.0.0.0',
    '--socket=/run/mysqld/mysqld.sock',
    '--pid-file=/run/mysqld/mysqld.pid',
    '--tmpdir=/tmp',
    ...SERVER_ARGS,
    ...extraArgs,
  ];
}

export interface MariaDbContainerOptions {
  name: string;
  /** Host directory mounted as the datadir. */
  dataDir: string;
  hostPort: number;
  extraArgs?: readonly string[];
  env?: Readonly<Record<string, string>>;
  logFile?: string;
}

export function mariaDbContainerSpec(options: MariaDbContainerOptions): ContainerSpec {
  return {
    name: options.name,
    image: IMAGES.mariadb,
    service: 'mariadb',
    command: serverCommand(options.extraArgs ?? []),
    ...(options.env === undefined ? {} : { env: options.env }),
    binds: [{ source: options.dataDir, target: CONTAINER_DATA }],
    tmpfs: { '/run/mysqld': 'rw,mode=1777' },
    containerPort: 3306,
    hostPort: options.hostPort,
    ...(options.logFile === undefined ? {} : { logFile: options.logFile }),
  };
}

let cached: Promise<string> | undefined;

/**
 * A datadir initialised by the image's own entrypoint, to copy from, one per image id, options and
 * uid, kept in the OS temp dir as the process version's template is (mariadb-server.ts
 * templateDataDir). Root may log in without a password from any host, as the engine forwards
 * connections from outside the container (MARIADB_ALLOW_EMPTY_ROOT_PASSWORD). Racing workers each
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
    .update(JSON.stringify([imageId, serverCommand([]), process.getuid?.()]))
    .digest('hex')
    .slice(0, 12);
  const target = join(tmpdir(), `iot-mariadb-container-template-${key}`);
  if (existsSync(target)) return target;
  const work = mkdtempSync(`${target}.tmp-`);
  try {
    const dataDir = join(work, 'data');
    mkdirSync(dataDir);
    const hostPort = await findFreePort();
    const init = new ContainerProcess(
      mariaDbContainerSpec({ name: `mariadb-template:${hostPort}`, dataDir, hostPort, env: { MARIADB_ALLOW_EMPTY_ROOT_PASSWORD: '1' }, logFile: join(work, 'init.log') }),
    );
    try {
      // The entrypoint's own init server runs without networking: a query over TCP reaches only
      // the final server, after the initialisation.
      await waitUntilReady('127.0.0.1', hostPort, init, 120_000);
      const exit = await init.stop('SIGTERM', 30_000);
      if (exit.signal === 'SIGKILL') throw new Error(`mariadbd did not stop cleanly after initialising its datadir\n${init.tail(40)}`);
    } finally {
      await init.kill();
    }
    try {
      renameSync(dataDir, target);
    } catch (error) {
      // Another worker won the race; its template is complete because it appeared by rename.
      if (!existsSync(target)) throw error;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return target;
}
