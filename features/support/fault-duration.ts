import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Keeps a fault in place for the time the scenario names ("down for 10 seconds", "cut off for 12
 * seconds"). This is the one fixed wait the steps have, and it is the fault itself, not a guess at
 * how long something takes: nothing is asserted about time, and steps wait for outcomes with
 * `eventually` or a process's `waitForLog`.
 */
export function faultLasts(seconds: number): Promise<void> {
  return sleep(seconds * 1000);
}
