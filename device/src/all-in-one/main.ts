import { systemClock } from '@iot/common/clock';
import { parseEnv, z } from '@iot/common/config';
import type { Logger } from '@iot/common/log';
import { runService, type Service } from '@iot/common/service';
import { buttonEnv, checkButtonPin } from '../button/config.ts';
import { createButton } from '../button/create-button.ts';
import { checkHardwareEnv, simulationOf } from '../device-config.ts';
import { loadHardware } from '../hardware/load-hardware.ts';
import { closeRedis, createRedisConnection } from '../redis-connection.ts';
import { sensorEnv } from '../sensor/config.ts';
import { createSensor } from '../sensor/create-sensor.ts';
import { checkUplinkEnv, type UplinkConfig, uplinkEnv } from '../uplink/config.ts';

/**
 * All device services in one process, for small devices (one Node.js runtime instead of several)
 * and for simulated fleets. Same config variables, same behaviour as the separate containers.
 * The uplink runs when MQTT_HOST is set; without it the process measures and buffers only, as before.
 */
function allInOneSchema(withUplink: boolean) {
  return z.object({ ...buttonEnv, ...sensorEnv, ...uplinkEnv }).superRefine((config, ctx) => {
    checkButtonPin(config, ctx);
    checkHardwareEnv(config, ctx);
    if (withUplink) checkUplinkEnv(config, ctx);
  });
}
type AllInOneConfig = z.infer<ReturnType<typeof allInOneSchema>>;

await runService({
  name: 'device',
  build: async (env, logger) => {
    const withUplink = (env.MQTT_HOST ?? '').trim() !== '';
    const config = parseEnv('device', allInOneSchema(withUplink), env);
    // Reboot with simulated hardware: stop every service (the sensor writes its shutdown marker)
    // and start them again, so the sensor draws a new boot id, as after a real reboot.
    let chain: Promise<unknown> = Promise.resolve();
    let stopped = false;
    const serially = (work: () => Promise<void>) => {
      const run = chain.then(work);
      chain = run.catch((error: unknown) => logger.error({ event: 'device_restart_failed', err: error }, 'restarting the device services failed'));
      return run;
    };
    const reboot = () => {
      void serially(async () => {
        if (stopped) return;
        logger.warn({ event: 'device_restarting' }, 'simulated reboot: restarting all device services');
        await current.stop();
        current = await buildDevice(config, withUplink, logger, reboot);
        await current.start();
      });
    };
    let current = await buildDevice(config, withUplink, logger, reboot);
    return {
      start: () => serially(() => current.start()),
      stop: () =>
        serially(async () => {
          stopped = true;
          await current.stop();
        }),
    };
  },
});

/** One generation of the device's services, sharing one Redis connection and the hardware. */
async function buildDevice(config: AllInOneConfig, withUplink: boolean, logger: Logger, reboot: () => void): Promise<Service> {
  const hardware = await loadHardware(config.HARDWARE, simulationOf(config), logger);
  const redis = createRedisConnection(config, logger);
  const sensor = await createSensor({ config, hardware, redis, logger: logger.child({ component: 'sensor' }), clock: systemClock });
  const button = createButton({ config, gpio: hardware.gpio, redis, logger: logger.child({ component: 'startstopbutton' }) });
  // Loaded only when configured: the uplink brings MQTT.js and its streams, which a device that
  // measures and buffers only never needs.
  const uplink = withUplink
    ? (await import('../uplink/create-uplink.ts')).createUplink({
        config: config as UplinkConfig,
        redis,
        logger: logger.child({ component: 'mqtthandler' }),
        clock: systemClock,
        simulatedReboot: reboot,
      })
    : undefined;
  return {
    start: async () => {
      await button.start();
      await sensor.start();
      await uplink?.start();
    },
    stop: async () => {
      await button.stop();
      await sensor.stop();
      await uplink?.stop();
      await closeRedis(redis);
      await hardware.close();
    },
  };
}
