export { ChipSet } from './chip-set.ts';
export { parseSensorConfig, type SensorConfig, sensorConfigSchema, sensorEnv } from './config.ts';
export { createSensor } from './create-sensor.ts';
export { type PendingReading, ReadingBuffer } from './reading-buffer.ts';
export { SensorService, type SensorServiceOptions } from './sensor-service.ts';
