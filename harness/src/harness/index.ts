export { type BackendStackOptions, BackendStack, type BrokerKind, type DatabaseKind, type WebAdminInfo } from './backend-stack.ts';
export { Credentials, type Login } from './credentials.ts';
export { SimulatedDevice, type SimulatedDeviceOptions } from './simulated-device.ts';
export { checkSystem, storedReadings } from './check-system.ts';
export type { BackendUnderTest, DeviceLink, DeviceRedis, DeviceUnderTest, FaultableServer, ReceiverOptions, RunningService, SystemOptions, SystemUnderTest } from './under-test.ts';
export { ProcessSystem } from './process-system.ts';
export { ContainerSystem, type ContainerSystemOptions } from './container-system.ts';
export { SYSTEM_IMAGES } from './container-scope.ts';
export { dockerEngineProblem, missingImages, newRunId, requireDockerEngine, SCENARIO_LABEL, sweepScenarioObjects } from '../docker/index.ts';
