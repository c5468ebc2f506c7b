import type { Edge, EdgeListener, Level } from './gpio.ts';

/**
 * Turns raw pin transitions into debounced ones: a new level is reported only after it has held
 * for `debounceMs` with no further transition. Both the real and the simulated GPIO drivers feed
 * their raw interrupts through this, so debounce behaves the same on a Pi and in simulation.
 */
export class Debouncer {
  private stable: Level;
  private pending: Level;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly debounceMs: number;
  private readonly onStable: (level: Level, atMs: number) => void;
  private readonly now: () => number;

  constructor(options: {
    initial: Level;
    debounceMs: number;
    onStable: (level: Level, atMs: number) => void;
    now?: () => number;
  }) {
    this.stable = options.initial;
    this.pending = options.initial;
    this.debounceMs = options.debounceMs;
    this.onStable = options.onStable;
    this.now = options.now ?? Date.now;
  }

  /** Feeds one raw level sample (an interrupt). */
  input(level: Level): void {
    this.pending = level;
    if (this.debounceMs <= 0) {
      this.settle();
      return;
    }
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.settle();
    }, this.debounceMs);
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private settle(): void {
    if (this.pending === this.stable) return;
    this.stable = this.pending;
    this.onStable(this.stable, this.now());
  }
}

/** Wraps a listener so it only sees the transitions `edge` asks for. */
export function filterEdge(edge: Edge, listener: EdgeListener): EdgeListener {
  return (level, atMs) => {
    if (edge === 'both' || (edge === 'rising' && level === 1) || (edge === 'falling' && level === 0)) {
      listener(level, atMs);
    }
  };
}
