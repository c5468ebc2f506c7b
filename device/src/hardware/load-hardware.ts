import { ConfigError } from '@iot/common/config';
import { createLogger, type Logger } from '@iot/common/log';
import type { Hardware, HardwareKind } from '@iot/hardware';
import type { SimulationOptions } from '@iot/simulator/hardware';

export type { SimulationOptions };

/** Where HARDWARE=remote finds its hardware: the simulator service, and the simulated device to use there. */
export interface RemoteOptions {
  /** SIM_REMOTE_HOST */
  host: string;
  /** SIM_REMOTE_PORT */
  port: number;
  /** SIM_REMOTE_DEVICE */
  device: string;
  /** How long to wait for the simulator at start; default 30 s. */
  connectTimeoutMs?: number;
}

/** What {@link loadHardware} needs besides the kind: the simulation for `sim`, the simulator's address for `remote`. */
export type HardwareOptions = SimulationOptions & { remote?: RemoteOptions };

/**
 * Loads the hardware named by configuration. Native drivers (onoff, i2c-bus) and the simulator are
 * imported only here and only when chosen, so a laptop never loads native code and a Pi never
 * loads simulation code by accident. `logger` receives what remote hardware reports about its
 * connection (lost, reconnected); without one it logs JSON lines as service `remote-hardware`.
 */
export async function loadHardware(kind: HardwareKind, options?: HardwareOptions, logger?: Logger): Promise<Hardware> {
  if (kind === 'pi') {
    const { createPiHardware } = await import('./pi/pi-hardware.ts');
    return createPiHardware();
  }
  if (kind === 'remote') return loadRemoteHardware(options?.remote, logger);
  const { createSimulatedHardware } = await import('@iot/simulator/hardware');
  return createSimulatedHardware(options ?? {});
}

async function loadRemoteHardware(remote: RemoteOptions | undefined, logger: Logger | undefined): Promise<Hardware> {
  if (remote === undefined) {
    throw new ConfigError('remote hardware', ['HARDWARE=remote needs SIM_REMOTE_HOST and SIM_REMOTE_DEVICE: where the simulator service runs and which device to use']);
  }
  const { createRemoteHardware } = await import('@iot/simulator/remote');
  try {
    return await createRemoteHardware({
      host: remote.host,
      port: remote.port,
      device: remote.device,
      logger: (logger ?? createLogger({ service: 'remote-hardware' })).child({ component: 'remote-hardware' }),
      ...(remote.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: remote.connectTimeoutMs }),
    });
  } catch (error) {
    // Unreachable or refused at start: the service cannot run, and a person must look at the
    // simulator or at these variables; a stack trace would not help them.
    throw new ConfigError('remote hardware', [`SIM_REMOTE_HOST=${remote.host} SIM_REMOTE_PORT=${remote.port} SIM_REMOTE_DEVICE=${remote.device}: ${(error as Error).message}`]);
  }
}
