export { type BackendStackOptions, BackendStack, type BrokerKind, type DatabaseKind, type WebAdminInfo } from './backend-stack.ts';
export { Credentials, type Login } from './credentials.ts';
export { SimulatedDevice, type SimulatedDeviceOptions } from './simulated-device.ts';
export { checkSystem, storedReadings } from './check-system.ts';
