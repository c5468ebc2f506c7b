// vitest globalSetup of vitest.containers.config.ts. Runs in vitest's main process: every worker
// labels its containers with this run's id (IOT_TEST_RUN_ID, which the config passes on), and
// the teardown removes whatever a crashed worker left with that label. Ryuk would do this, but
// its image cannot be pulled offline.
import { RUN_ID_ENV, removeLabelledContainers, runId } from './cleanup.ts';
import { disableRyuk, engineStatus } from './engine.ts';

export async function setup(): Promise<void> {
  disableRyuk();
  runId();
}

export async function teardown(): Promise<void> {
  if (!(await engineStatus()).ok) return;
  const removed = await removeLabelledContainers(runId());
  if (removed > 0) process.stderr.write(`containers: removed ${removed} container(s) left by this run (${RUN_ID_ENV}=${runId()}), e.g. by a crashed worker\n`);
}
