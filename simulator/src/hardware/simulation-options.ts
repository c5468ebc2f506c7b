/**
 * What a simulated device looks like, when HARDWARE=sim: plain data a device service's config can
 * produce, so the device's config code needs none of the simulator's classes.
 */
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
