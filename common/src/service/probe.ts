/**
 * A container healthcheck that needs nothing but Node (the images have no curl):
 *   node common/src/service/probe.ts http://127.0.0.1:8081/health   → 0 when the answer is 2xx
 *   node common/src/service/probe.ts tcp://127.0.0.1:1883           → 0 when a connection opens
 * Anything else exits 1 with one line on stderr saying what failed (Docker shows it in
 * `docker inspect`); a malformed target exits 2. See docs/containers.md §3.
 */
import { connect } from 'node:net';

const TIMEOUT_MS = 3000;

export async function probe(target: string, timeoutMs = TIMEOUT_MS): Promise<void> {
  const url = new URL(target);
  if (url.protocol === 'tcp:') {
    const port = Number(url.port);
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ host: url.hostname.replace(/^\[|\]$/g, ''), port, timeout: timeoutMs });
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('timeout', () => {
        socket.destroy();
        reject(new Error(`no connection to ${target} within ${timeoutMs} ms`));
      });
      socket.once('error', (error) => reject(new Error(`cannot connect to ${target}: ${error.message}`)));
    });
    return;
  }
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) }).catch((error: Error) => {
    throw new Error(`cannot reach ${target}: ${error.cause instanceof Error ? error.cause.message : error.message}`);
  });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`${target} answered ${response.status}`);
}

function usage(message: string): never {
  process.stderr.write(`probe: ${message}\nusage: probe http://HOST:PORT/PATH | tcp://HOST:PORT\n`);
  process.exit(2);
}

if (import.meta.main) {
  const [target, ...rest] = process.argv.slice(2);
  if (target === undefined || rest.length > 0) usage('exactly one target expected');
  let parsed: URL;
  try {
    parsed = new URL(target);
  } catch {
    usage(`${target} is not a URL`);
  }
  if (!['http:', 'https:', 'tcp:'].includes(parsed.protocol)) usage(`${parsed.protocol} is not http:, https: or tcp:`);
  if (parsed.protocol === 'tcp:' && parsed.port === '') usage(`${target} names no port`);
  try {
    await probe(target);
  } catch (error) {
    process.stderr.write(`probe: ${(error as Error).message}\n`);
    process.exit(1);
  }
}
