import type { Clock } from '@iot/common/clock';
import type { Logger } from '@iot/common/log';
import type { Redis } from 'ioredis';
import { createChipDriver } from '../chips/index.ts';
import type { Hardware } from '@iot/hardware';
import { ChipSet } from './chip-set.ts';
import type { SensorConfig } from './config.ts';
import { SensorService } from './sensor-service.ts';

/** Wires a sensor service from its config and the hardware it is given. */
export async function createSensor(options: {
  config: SensorConfig;
  hardware: Hardware;
  redis: Redis;
  logger: Logger;
  clock: Clock;
}): Promise<SensorService> {
  const { config, hardware, redis, logger, clock } = options;
  const chips =
    config.SENSORS.length === 0
      ? []
      : await hardware.openI2cBus(config.I2C_BUS).then((bus) =>
          config.SENSORS.map((spec) => ({ spec, driver: createChipDriver(spec.kind, { bus, address: spec.address, clock }) })),
        );
  if (chips.length === 0) logger.warn({ event: 'no_sensors' }, 'SENSORS is empty: nothing will be measured');
  return new SensorService({
    redis,
    chips: new ChipSet(chips, logger),
    clock,
    logger,
    defaultIntervalSeconds: config.INTERVAL_SECONDS,
    bufferCapacity: config.SENSOR_BUFFER_CAPACITY,
  });
}
