import { setTimeout as sleepTimer } from 'node:timers/promises';

/** Time as services see it. Injected so simulations can skew or freeze it; the default is the OS clock. */
export interface Clock {
  /** Wall-clock milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    if (signal?.aborted) return;
    try {
      await sleepTimer(Math.max(0, ms), undefined, signal ? { signal } : undefined);
    } catch (error) {
      if (!(error instanceof Error && error.name === 'AbortError')) throw error;
    }
  },
};
