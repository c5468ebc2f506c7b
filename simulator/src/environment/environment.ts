/** What the air around a simulated chip is like at one moment. */
export interface Conditions {
  temperatureCelsius: number;
  humidityPercent: number;
  pressureHpa: number;
}

/** A source of conditions over time: constant, a curve, or a replayed recording. */
export interface Environment {
  /** Conditions at `ms` (wall-clock milliseconds since the epoch). */
  at(ms: number): Conditions;
}

export const ROOM: Conditions = { temperatureCelsius: 21.5, humidityPercent: 45, pressureHpa: 1013.25 };

export function constantEnvironment(conditions: Conditions = ROOM): Environment {
  return { at: () => conditions };
}

/**
 * An environment a scenario can change while it runs: `set` overrides the current conditions, on
 * top of an underlying source (a curve or a recording).
 */
export class AdjustableEnvironment implements Environment {
  private source: Environment;
  private override: Partial<Conditions> = {};

  constructor(source: Environment = constantEnvironment()) {
    this.source = source;
  }

  at(ms: number): Conditions {
    return { ...this.source.at(ms), ...this.override };
  }

  set(conditions: Partial<Conditions>): void {
    this.override = { ...this.override, ...conditions };
  }

  use(source: Environment): void {
    this.source = source;
    this.override = {};
  }
}
