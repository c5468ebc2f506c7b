import type { FleetSnapshot } from './fleet.ts';

/**
 * The fleet's progress on stderr: one line redrawn in place on a terminal, a plain line every
 * `plainEverySeconds` otherwise (CI logs, pipes).
 */
export class ProgressDisplay {
  private lastPlain = Number.NEGATIVE_INFINITY;
  private drawn = false;

  private readonly stream: NodeJS.WriteStream;
  private readonly plainEverySeconds: number;

  constructor(stream: NodeJS.WriteStream = process.stderr, plainEverySeconds = 10) {
    this.stream = stream;
    this.plainEverySeconds = plainEverySeconds;
  }

  show(snapshot: FleetSnapshot, phase: string, elapsedSeconds: number): void {
    const line = formatSnapshot(snapshot, phase, elapsedSeconds);
    if (this.stream.isTTY) {
      const width = this.stream.columns ?? 160;
      this.stream.write(`\r\x1b[2K${line.length > width - 1 ? `${line.slice(0, width - 2)}…` : line}`);
      this.drawn = true;
    } else if (elapsedSeconds - this.lastPlain >= this.plainEverySeconds) {
      this.lastPlain = elapsedSeconds;
      this.stream.write(`${line}\n`);
    }
  }

  /** A message on its own line, below the redrawn one. */
  message(text: string): void {
    this.end();
    this.stream.write(`${text}\n`);
  }

  /** Leaves the redrawn line in place. */
  end(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}

export function formatSnapshot(s: FleetSnapshot, phase: string, elapsedSeconds: number): string {
  const bar = progressBar(s.connected / Math.max(1, s.devices), 12);
  const latency = s.latencyMs === undefined ? 'latency –' : `latency p50 ${ms(s.latencyMs.p50)} p95 ${ms(s.latencyMs.p95)} p99 ${ms(s.latencyMs.p99)}`;
  const problems = Object.values(s.problems).reduce((a, b) => a + b, 0);
  return [
    `${elapsedSeconds.toFixed(0).padStart(4)} s ${phase.padEnd(9)}`,
    `${bar} ${s.connected}/${s.devices} up`,
    `fleet ${s.fleetRate.toFixed(0)}/s`,
    `device ${s.perDeviceRate.median.toFixed(2)}/s (${s.perDeviceRate.min.toFixed(2)}–${s.perDeviceRate.max.toFixed(2)})`,
    `backlog ${s.backlog} (max ${s.backlogMax})`,
    latency,
    `recorded ${s.recorded} confirmed ${s.confirmed}`,
    ...(problems > 0 ? [`warnings ${problems}`] : []),
  ].join(' · ');
}

function progressBar(fraction: number, width: number): string {
  const full = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
}

function ms(value: number): string {
  return value >= 10_000 ? `${(value / 1000).toFixed(0)}s` : value >= 1000 ? `${(value / 1000).toFixed(1)}s` : `${value.toFixed(0)}ms`;
}
