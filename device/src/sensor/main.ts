import { systemClock } from '@iot/common/clock';
import { runService } from '@iot/common/service';
import { simulationOf } from '../device-config.ts';
import { loadHardware } from '../hardware/load-hardware.ts';
import { closeRedis, createRedisConnection } from '../redis-connection.ts';
import { parseSensorConfig } from './config.ts';
import { createSensor } from './create-sensor.ts';

await runService({
  name: 'sensor',
  build: async (env, logger) => {
    const config = parseSensorConfig(env);
    const hardware = await loadHardware(config.HARDWARE, simulationOf(config), logger);
    const redis = createRedisConnection(config, logger);
    const sensor = await createSensor({ config, hardware, redis, logger, clock: systemClock });
    return {
      start: () => sensor.start(),
      stop: async () => {
        await sensor.stop();
        await closeRedis(redis);
        await hardware.close();
      },
    };
  },
});
