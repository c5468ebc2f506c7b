import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { engine } from './engine.ts';

/** Every container the harness starts carries this label; its value is the run id. */
export const RUN_LABEL = 'org.iot-stack.test';
/** The process that started it, so a crashed worker's leftovers can be told apart. */
export const PID_LABEL = 'org.iot-stack.test.pid';
/** `redis`, `mariadb`, `mosquitto`, ... */
export const SERVICE_LABEL = 'org.iot-stack.test.service';
/** Set by the containers' vitest globalSetup, so every worker labels with one id it can clean up. */
export const RUN_ID_ENV = 'IOT_TEST_RUN_ID';

/** This run's id: IOT_TEST_RUN_ID, or one made up for this process (and its children). */
export function runId(): string {
  const given = process.env[RUN_ID_ENV];
  if (given !== undefined && given !== '') return given;
  const made = `run-${process.pid}-${randomBytes(4).toString('hex')}`;
  process.env[RUN_ID_ENV] = made;
  return made;
}

/** The labels of a container started now for `service`. */
export function containerLabels(service: string): Record<string, string> {
  return { [RUN_LABEL]: runId(), [PID_LABEL]: String(process.pid), [SERVICE_LABEL]: service };
}

/** Containers of this process that exist (created, maybe not yet removed). */
const live = new Set<string>();
let exitHookInstalled = false;

/**
 * Registers a created container until {@link untrack}. Without Ryuk nothing else would remove it
 * if this process dies: on exit, a detached helper removes whatever is still registered (an exit
 * handler cannot wait for the engine's answers itself).
 */
export function track(id: string): void {
  live.add(id);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    if (live.size === 0) return;
    const helper = fileURLToPath(new URL('./remove-containers.ts', import.meta.url));
    spawn(process.execPath, [helper, ...live], { detached: true, stdio: 'ignore' }).unref();
  });
}

export function untrack(id: string): void {
  live.delete(id);
}

/** Ids of this process's containers not yet removed. */
export function trackedContainers(): string[] {
  return [...live];
}

/** Force-removes containers by id with their anonymous volumes; gone ones are fine. @returns how many it removed. */
export async function removeContainers(ids: readonly string[]): Promise<number> {
  const client = await engine();
  let removed = 0;
  for (const id of ids) {
    try {
      await client.container.dockerode.getContainer(id).remove({ force: true, v: true });
      removed++;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode !== 404) throw error;
    }
    untrack(id);
  }
  return removed;
}

/** Ids of every container labelled with `run` (default: this run), running or not. */
export async function labelledContainers(run = runId()): Promise<string[]> {
  const client = await engine();
  const found = await client.container.dockerode.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${run}`] } });
  return found.map((c) => c.Id);
}

/** Removes every container labelled with `run`, e.g. what a crashed worker left. @returns how many. */
export async function removeLabelledContainers(run = runId()): Promise<number> {
  return removeContainers(await labelledContainers(run));
}
