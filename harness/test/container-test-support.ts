import { readFileSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterEach } from 'vitest';
import { RUN_LABEL, runId } from '../src/containers/cleanup.ts';
import { engine } from '../src/containers/engine.ts';

// What both container-provider test files need: cleanups after each test, env overrides, and
// looks at this run's containers, the processes and the host's addresses.

export const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Runs `body` with `name` set to `value` in this process's env, then puts it back. */
export async function withEnv<T>(name: string, value: string, body: () => Promise<T>): Promise<T> {
  const before = process.env[name];
  process.env[name] = value;
  try {
    return await body();
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

/** The containers of this run that publish `port`, inspected. */
export async function containersOn(port: number) {
  const client = await engine();
  const listed = await client.container.dockerode.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${runId()}`] } });
  const mine = listed.filter((c) => c.Ports.some((p) => p.PublicPort === port));
  return Promise.all(mine.map((c) => client.container.dockerode.getContainer(c.Id).inspect()));
}

/** Whether a Redis answers PING at host:port; a refused, reset or silent connection is a no. */
export function pingAt(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(3000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk) => done(chunk.toString().startsWith('+PONG')));
  });
}

/** This host's addresses other than loopback (its LAN address, Docker's bridge): where a 0.0.0.0 port would answer. */
export function outsideAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && a.family === 'IPv4' && !a.internal)
    .map((a) => a!.address);
}

/** State letter of a process from /proc (T: stopped by a signal). */
export function processState(pid: number): string {
  return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0]!;
}
