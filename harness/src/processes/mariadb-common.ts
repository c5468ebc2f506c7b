import { existsSync, renameSync } from 'node:fs';
import type { ServerRun } from './server-run.ts';

/**
 * InnoDB sized for a test server: the defaults (128 MiB buffer pool, 96 MiB redo log) cost memory
 * and disk per server for nothing. Also used when initialising, so the template's redo log already
 * has this size.
 */
export const SMALL_SERVER_ARGS = [
  '--innodb-buffer-pool-size=32M',
  '--innodb-log-file-size=8M',
  '--key-buffer-size=1M',
  '--aria-pagecache-buffer-size=4M',
  '--max-connections=60',
  '--performance-schema=OFF',
];

/** The OS user mariadbd must be told to run as: as root it refuses to start without `--user`. */
export const USER_ARGS = process.getuid?.() === 0 ? ['--user=root'] : [];

/** How a template datadir is initialised, process or container: root logs in without a password. */
export const INIT_ARGS = ['--no-defaults', '--auth-root-authentication-method=normal', '--skip-test-db', ...USER_ARGS, ...SMALL_SERVER_ARGS];

/** Server options every test server gets, process or container. */
export const SERVER_ARGS = ['--skip-name-resolve', '--character-set-server=utf8mb4', '--collation-server=utf8mb4_unicode_ci', ...SMALL_SERVER_ARGS];

/** mysql2 is loaded only when a MariaDbServer is used, not by everyone importing the process helpers. */
export async function connect(options: { host: string; port: number; connectTimeout: number }) {
  const { createConnection } = await import('mysql2/promise');
  return createConnection({ ...options, user: 'root' });
}

/**
 * Ready means a client completes the handshake and gets an answer to a query: the TCP port opens
 * before InnoDB recovery has finished (and a container's published port accepts before mariadbd
 * listens at all), so a listening socket alone proves nothing.
 */
export async function waitUntilReady(host: string, port: number, proc: ServerRun, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (!proc.running) throw new Error(`mariadbd exited during start-up\n${proc.tail(40)}`);
    try {
      const connection = await connect({ host, port, connectTimeout: 1_000 });
      try {
        await connection.query('SELECT 1');
        return;
      } finally {
        connection.destroy();
      }
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`mariadbd on port ${port} not ready after ${timeoutMs} ms (last error: ${lastError})\n${proc.tail(40)}`);
}

/**
 * Moves a finished template datadir to its shared place. Templates appear only by rename, so one
 * that exists is complete: when another worker got there first, its template is kept.
 */
export function publishTemplate(dataDir: string, target: string): void {
  try {
    renameSync(dataDir, target);
  } catch (error) {
    if (!existsSync(target)) throw error;
  }
}
