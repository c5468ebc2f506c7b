import type { CommandOutcome } from './command-outcome.ts';

/**
 * Answers to the most recent command ids. QoS 1 delivers at least once, so the same command may
 * arrive twice; a repeated id gets the first answer again instead of running twice (a second
 * reboot, a second send_measurements). A repeat that arrives while the first is still running
 * waits for it. Ids whose answer was a transient failure are forgotten, so the backend can retry
 * them with the same id.
 */
export class RecentCommands {
  private readonly outcomes = new Map<string, Promise<CommandOutcome>>();
  private readonly capacity: number;
  private readonly shouldForget: (outcome: CommandOutcome) => boolean;

  constructor(options: { capacity: number; shouldForget: (outcome: CommandOutcome) => boolean }) {
    this.capacity = options.capacity;
    this.shouldForget = options.shouldForget;
  }

  /** Runs `run` for a new id; for a known id returns the remembered answer without its follow-up action. */
  async once(id: string, run: () => Promise<CommandOutcome>): Promise<CommandOutcome & { repeated: boolean }> {
    const known = this.outcomes.get(id);
    if (known !== undefined) {
      const { response } = await known;
      return { response, repeated: true };
    }
    const pending = run();
    this.outcomes.set(id, pending);
    this.evictOldest();
    const outcome = await pending;
    if (this.shouldForget(outcome) && this.outcomes.get(id) === pending) this.outcomes.delete(id);
    return { ...outcome, repeated: false };
  }

  private evictOldest(): void {
    // A Map iterates in insertion order, so the first key is the oldest id.
    while (this.outcomes.size > this.capacity) {
      const oldest = this.outcomes.keys().next().value;
      if (oldest === undefined) return;
      this.outcomes.delete(oldest);
    }
  }
}
