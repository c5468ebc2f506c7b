import { systemClock } from '@iot/common/clock';
import { runService } from '@iot/common/service';
import { closeRedis, createRedisConnection } from '../redis-connection.ts';
import { parseUplinkConfig } from './config.ts';
import { createUplink } from './create-uplink.ts';

await runService({
  name: 'mqtthandler',
  build: async (env, logger) => {
    const config = parseUplinkConfig(env);
    const redis = createRedisConnection(config, logger);
    const uplink = createUplink({
      config,
      redis,
      logger,
      clock: systemClock,
      // Simulated reboot of a separate service: a clean stop (runService's SIGTERM path, exit 0);
      // its supervisor (compose, balena, the test harness) starts it again.
      simulatedReboot: () => {
        process.kill(process.pid, 'SIGTERM');
      },
    });
    return {
      start: () => uplink.start(),
      stop: async () => {
        await uplink.stop();
        await closeRedis(redis);
      },
    };
  },
});
