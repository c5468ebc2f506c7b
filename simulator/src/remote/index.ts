export { SimulationControlHttpClient, SimulationControlHttpError } from '../control/control-http-client.ts';
export { ControlHttpServer } from '../control/control-http-server.ts';
export { RemoteUnavailableError } from './remote-connection.ts';
export { createRemoteHardware, RemoteHardware, type RemoteHardwareOptions } from './remote-hardware.ts';
export { RemoteHardwareServer, type RemoteHardwareServerOptions } from './remote-hardware-server.ts';
export { DEFAULT_HARDWARE_PORT, DEVICE_NAME_PATTERN, REMOTE_PROTOCOL_VERSION } from './remote-protocol.ts';
export { deviceSeed, type FleetDevice, FleetRefusedError, SimulatedFleet, type SimulatedFleetOptions } from './simulated-fleet.ts';
