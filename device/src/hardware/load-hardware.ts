import type { Hardware, HardwareKind } from '@iot/hardware';
import type { SimulationOptions } from '@iot/simulator/hardware';

export type { SimulationOptions };

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
