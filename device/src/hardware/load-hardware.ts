import type { Hardware, HardwareKind } from './hardware.ts';

/**
 * Loads the hardware named by configuration. Native drivers (onoff, i2c-bus) and the simulator are
 * imported only here and only when chosen, so a laptop never loads native code and a Pi never
 * loads simulation code by accident.
 */
export async function loadHardware(kind: HardwareKind, simulation?: SimulationOptions): Promise<Hardware> {
  if (kind === 'pi') {
    const { createPiHardware } = await import('./pi/pi-hardware.ts');
    return createPiHardware();
  }
  const { createSimulatedHardware } = await import('@iot/simulator/hardware');
  return createSimulatedHardware(simulation ?? {});
}

/** What a simulated device looks like, when HARDWARE=sim. Plain data, so device code needs no simulator types. */
export interface SimulationOptions {
  /** Chips to place on the simulated buses, as `kind@address` (same syntax as SENSORS). */
  chips?: readonly { kind: string; busNumber: number; address: number }[];
  /** Random seed for sensor noise and contact bounce, so a simulated device is reproducible. */
  seed?: number;
  /** What the simulated chips sense: `room`, `daily` or `csv:/path/to/recording.csv` (SIM_ENVIRONMENT). */
  environment?: string;
  /**
   * Unix socket on which the simulator serves its control protocol (SIM_CONTROL_SOCKET), so tests
   * in another process can press buttons and inject faults. None when unset.
   */
  controlSocket?: string;
}
