import { randomBytes } from 'node:crypto';
import { docker } from './docker-cli.ts';
import { removeContainers, removeNetworks, removeVolumes } from './containers.ts';

/**
 * Every container, network and volume a container scenario creates carries this label, its value
 * the run's id, so a run removes what it made however it ended, and the next run removes what a
 * crashed one left behind. (The testcontainers tier labels with `org.iot-stack.test`; the two
 * never touch each other's objects.)
 */
export const SCENARIO_LABEL = 'org.iot-stack.scenario';

/** A short id for one run: lower-case, so it can prefix container and network names. */
export function newRunId(): string {
  return `s${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

export function scenarioLabels(runId: string): Record<string, string> {
  return { [SCENARIO_LABEL]: runId };
}

export interface SweepResult {
  containers: number;
  networks: number;
  volumes: number;
}

/**
 * Removes every container, network and volume labelled {@link SCENARIO_LABEL} (only run `runId`'s
 * when given). Containers go first: a network or volume in use cannot be removed.
 */
export async function sweepScenarioObjects(runId?: string): Promise<SweepResult> {
  const filter = `label=${runId === undefined ? SCENARIO_LABEL : `${SCENARIO_LABEL}=${runId}`}`;
  const list = async (args: string[]) => (await docker([...args, '--filter', filter])).split('\n').filter((line) => line !== '');
  const containers = await list(['ps', '--all', '--quiet']);
  await removeContainers(containers);
  const [networks, volumes] = await Promise.all([list(['network', 'ls', '--quiet']), list(['volume', 'ls', '--quiet'])]);
  await Promise.all([removeNetworks(networks), removeVolumes(volumes)]);
  return { containers: containers.length, networks: networks.length, volumes: volumes.length };
}
