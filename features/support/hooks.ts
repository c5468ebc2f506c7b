import { After, setDefaultTimeout, Status } from '@cucumber/cucumber';
import type { SystemWorld } from './world.ts';

// Scenarios start real processes and wait for conditions (never fixed sleeps); steps get room.
setDefaultTimeout(120_000);

/**
 * The unchecked-error guard (as in cucumber-js's own suite): a scenario passes only if every
 * error-level log line of every process was caused on purpose by one of its steps.
 */
After(async function (this: SystemWorld, { pickle, result }) {
  try {
    if (result?.status === Status.PASSED) {
      const unexpected = this.processes().flatMap((p) =>
        p
          .logs()
          .filter((r) => (r.level === 'error' || r.level === 'fatal') && !this.expectedErrors.has(String(r.event)))
          .map((r) => `${p.name}: ${String(r.event)} ${String(r.msg)}`),
      );
      if (unexpected.length > 0) {
        this.writeReport(pickle.name, 'failed: unexpected errors');
        throw new Error(`errors nobody expected (a step that causes them must say so):\n  ${unexpected.slice(0, 10).join('\n  ')}`);
      }
    }
    const file = this.writeReport(pickle.name, result?.status ?? 'unknown');
    this.attach(`checker report: ${file}`);
  } finally {
    await this.teardown();
  }
});
