import { systemClock } from '@iot/common/clock';
import { parseEnv, z } from '@iot/common/config';
import { runService } from '@iot/common/service';
import { buttonEnv, checkButtonPin } from '../button/config.ts';
import { createButton } from '../button/create-button.ts';
import { simulationOf } from '../device-config.ts';
import { loadHardware } from '../hardware/load-hardware.ts';
import { closeRedis, createRedisConnection } from '../redis-connection.ts';
import { sensorEnv } from '../sensor/config.ts';
import { createSensor } from '../sensor/create-sensor.ts';

/**
 * All device services in one process, for small devices (one Node.js runtime instead of several)
 * and for simulated fleets. Same config variables, same behaviour as the separate containers.
 */
const allInOneSchema = z.object({ ...buttonEnv, ...sensorEnv }).superRefine(checkButtonPin);

await runService({
  name: 'device',
  build: async (env, logger) => {
    const config = parseEnv('device', allInOneSchema, env);
    const hardware = await loadHardware(config.HARDWARE, simulationOf(config));
    const redis = createRedisConnection(config, logger);
    const sensor = await createSensor({ config, hardware, redis, logger: logger.child({ component: 'sensor' }), clock: systemClock });
    const button = createButton({ config, gpio: hardware.gpio, redis, logger: logger.child({ component: 'startstopbutton' }) });
    return {
      start: async () => {
        await button.start();
        await sensor.start();
      },
      stop: async () => {
        await button.stop();
        await sensor.stop();
        await closeRedis(redis);
        await hardware.close();
      },
    };
  },
});
