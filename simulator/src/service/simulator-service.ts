import type { Logger } from '@iot/common/log';
import type { Service } from '@iot/common/service';
import { ControlHttpServer } from '../control/control-http-server.ts';
import { RemoteHardwareServer } from '../remote/remote-hardware-server.ts';
import { SimulatedFleet } from '../remote/simulated-fleet.ts';
import type { SimulatorConfig } from './simulator-config.ts';

/**
 * The simulator service: the simulated hardware of many devices (one {@link SimulatedFleet}),
 * served to their device services over TCP (HARDWARE=remote) and to people and test scenarios
 * through the HTTP control API.
 */
export function createSimulatorService(config: SimulatorConfig, logger: Logger): Service & { readonly fleet: SimulatedFleet } {
  const fleet = new SimulatedFleet({
    chips: config.SIM_CHIPS.map((chip) => ({ kind: chip.kind, busNumber: config.SIM_I2C_BUS, address: chip.address })),
    environment: config.SIM_ENVIRONMENT,
    seed: config.SIM_SEED,
    maxDevices: config.SIM_MAX_DEVICES,
    logger: logger.child({ component: 'fleet' }),
  });
  let hardware: RemoteHardwareServer | undefined;
  let control: ControlHttpServer | undefined;
  return {
    fleet,
    start: async () => {
      hardware = await RemoteHardwareServer.listen({
        fleet,
        host: config.SIM_BIND,
        port: config.SIM_HARDWARE_PORT,
        maxConnections: Math.max(64, config.SIM_MAX_DEVICES * 4),
        logger: logger.child({ component: 'remote-hardware' }),
      });
      const served = hardware;
      control = await ControlHttpServer.listen({
        devices: fleet,
        host: config.SIM_BIND,
        port: config.SIM_CONTROL_PORT,
        logger: logger.child({ component: 'control-http' }),
        health: () => served.stats(),
      });
      logger.info(
        {
          event: 'simulator_ready',
          hardware_port: hardware.port,
          control_port: control.port,
          bind: config.SIM_BIND,
          chips: config.SIM_CHIPS.map((chip) => `${chip.kind}@0x${chip.address.toString(16)}`),
          i2c_bus: config.SIM_I2C_BUS,
          environment: config.SIM_ENVIRONMENT,
          max_devices: config.SIM_MAX_DEVICES,
        },
        `simulating devices: hardware on ${config.SIM_BIND}:${hardware.port}, control API on http://${config.SIM_BIND}:${control.port}`,
      );
    },
    stop: async () => {
      await control?.close();
      await hardware?.close();
      await fleet.close();
    },
  };
}
