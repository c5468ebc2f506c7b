import { runService } from '@iot/common/service';
import { simulationOf } from '../device-config.ts';
import { loadHardware } from '../hardware/load-hardware.ts';
import { closeRedis, createRedisConnection } from '../redis-connection.ts';
import { createButton } from './create-button.ts';
import { parseButtonConfig } from './config.ts';

await runService({
  name: 'startstopbutton',
  build: async (env, logger) => {
    const config = parseButtonConfig(env);
    const hardware = await loadHardware(config.HARDWARE, simulationOf(config), logger);
    const redis = createRedisConnection(config, logger);
    const button = createButton({ config, gpio: hardware.gpio, redis, logger });
    return {
      start: () => button.start(),
      stop: async () => {
        await button.stop();
        await closeRedis(redis);
        await hardware.close();
      },
    };
  },
});
