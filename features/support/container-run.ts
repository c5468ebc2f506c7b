import { AfterAll, BeforeAll } from '@cucumber/cucumber';
import { missingImages, newRunId, requireDockerEngine, SYSTEM_IMAGES, sweepScenarioObjects } from '@iot/harness';

/** This cucumber run's id: the scenario label of every container, network and volume it creates. */
export const CONTAINER_RUN_ID = newRunId();

/** The `containers` profile says so in its world parameters (features/cucumber.json). */
const onContainers = (parameters: Record<string, unknown>) => parameters.backend === 'containers';

let prepared: Promise<void> | undefined;
let engineAnswered = false;

/**
 * Once per run, before the first system in containers: an engine must answer and the images must
 * exist (they are built by docker/build-images.sh, never pulled), then whatever an earlier run
 * left behind is removed.
 */
export function prepareContainerRun(): Promise<void> {
  prepared ??= (async () => {
    await requireDockerEngine('the container scenarios');
    engineAnswered = true;
    const missing = await missingImages(Object.values(SYSTEM_IMAGES));
    if (missing.length > 0) throw new Error(`the container scenarios need the images ${missing.join(', ')}; build them with docker/build-images.sh (they are never pulled)`);
    await sweepScenarioObjects();
  })();
  return prepared;
}

// Fails the containers profile at once, with one message, when there is no engine; other
// profiles never ask for one.
BeforeAll({ timeout: 120_000 }, async function () {
  if (onContainers(this.parameters)) await prepareContainerRun();
});

// The teardown of each scenario removes its objects; this catches what a failed teardown left.
AfterAll({ timeout: 120_000 }, async () => {
  if (engineAnswered) await sweepScenarioObjects(CONTAINER_RUN_ID);
});
