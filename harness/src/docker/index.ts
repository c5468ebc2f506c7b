export { ContainerService, type ContainerServiceOptions } from './container-service.ts';
export {
  type ContainerSpec,
  connectNetwork,
  createArgs,
  createContainer,
  createNetwork,
  createVolume,
  disconnectNetwork,
  execInContainer,
  isRunning,
  killContainers,
  killTogether,
  type Mount,
  type NetworkAttachment,
  pauseContainer,
  removeContainers,
  removeNetworks,
  removeVolumes,
  startContainer,
  stopContainer,
  unpauseContainer,
} from './containers.ts';
export { DockerCommandError, docker, dockerEngineProblem, dockerIgnoringMissing, missingImages, requireDockerEngine } from './docker-cli.ts';
export { LogFollower } from './log-follower.ts';
export { newRunId, SCENARIO_LABEL, scenarioLabels, type SweepResult, sweepScenarioObjects } from './scenario-labels.ts';
