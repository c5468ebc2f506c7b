import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { labelledContainers, removeLabelledContainers, RUN_ID_ENV } from '../src/containers/cleanup.ts';
import { engineStatus } from '../src/containers/engine.ts';
import { eventually } from '../src/testing/log-capture.ts';

// Without Ryuk, nothing but the harness removes its containers: these crash the process that
// started one and look for what is left. The container tier runs them (vitest.containers.config.ts),
// after it has built the images; skipped without a Docker engine.
const docker = await engineStatus();

const processes = new URL('../src/processes/index.ts', import.meta.url);
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * A separate Node process that starts a Redis container under its own run id, prints the
 * server's directory, then does `then` ('exit': exits without disposing it; 'hang': waits to be killed).
 */
async function childWithContainer(then: 'exit' | 'hang'): Promise<{ child: ChildProcess; run: string; dir: string }> {
  const run = `cleanup-test-${randomBytes(4).toString('hex')}`;
  const script = [
    `import { RedisServer } from ${JSON.stringify(pathToFileURL(processes.pathname).href)};`,
    "const redis = await new RedisServer({ provider: 'containers' }).start();",
    'console.log(redis.dir);',
    then === 'exit' ? 'process.exit(0);' : 'setInterval(() => {}, 1000);',
  ].join('\n');
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, [RUN_ID_ENV]: run }, stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  // Whatever happens, nothing of this run stays behind.
  cleanups.push(() => removeLabelledContainers(run));
  const dir = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code, signal) => reject(new Error(`the child exited (${code ?? signal}) before starting Redis`)));
  });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return { child, run, dir };
}

describe.skipIf(!docker.ok)('containers left by a process that did not dispose them', () => {
  it('are removed when that process exits', async () => {
    const { child, run } = await childWithContainer('exit');
    if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
    expect(child.exitCode).toBe(0);
    // A detached helper removes them after the exit; wait for it.
    await eventually(async () => (await labelledContainers(run)).length === 0, 30_000, 'the exited process’s container to be removed');
  }, 60_000);

  it('stay when it is SIGKILLed, until the run’s teardown removes every container with the run’s label', async () => {
    const { child, run } = await childWithContainer('hang');
    expect(await labelledContainers(run)).toHaveLength(1);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    // No exit hook ran: the container is still there, as after a crashed test worker.
    expect(await labelledContainers(run)).toHaveLength(1);
    expect(await removeLabelledContainers(run)).toBe(1);
    expect(await labelledContainers(run)).toEqual([]);
  }, 60_000);
});
