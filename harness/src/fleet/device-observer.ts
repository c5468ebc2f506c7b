import type { RecordedReading } from '../checker/delivery-checker.ts';

/** Where the observers of one worker put what they learn. */
export interface ObserverSink {
  history: RecordedReading[];
  measuredAt: number[];
  latencyMs: number[];
  problem(event: string, line: string): void;
}

/**
 * What a virtual device's services say about themselves, read from their structured log lines as
 * they are written (the logger's destination), the way the checker reads a real device's log:
 * - `reading_recorded` (sensor, info): Redis acknowledged the XADD; the checker's history, and the
 *   start of the latency clock (`measured_at` is taken just before the XADD);
 * - `cursor_advanced` (uplink, debug): the receiver's ack moved the durable cursor to `to`, so
 *   every reading up to there is committed; the time this line is written is an upper bound of
 *   the commit;
 * - `uplink_connected` / `uplink_disconnected`: whether the device is up.
 * Everything at warn or above is counted by event and handed to `onProblem`.
 */
export class DeviceObserver {
  connected = false;
  recorded = 0;
  confirmed = 0;
  /** Recorded, not yet confirmed, in stream order (parallel arrays; `head` is the first live one). */
  private pendingMs: number[] = [];
  private pendingSeq: number[] = [];
  private pendingMeasured: number[] = [];
  private head = 0;
  private readonly onConnected: (() => void)[] = [];

  private readonly deviceId: string;
  private readonly sink: ObserverSink;
  private readonly now: () => number;

  constructor(deviceId: string, sink: ObserverSink, now: () => number = Date.now) {
    this.deviceId = deviceId;
    this.sink = sink;
    this.now = now;
  }

  get backlog(): number {
    return this.pendingMs.length - this.head;
  }

  /** Resolves once the uplink has connected (at once if it is). */
  whenConnected(): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve) => this.onConnected.push(resolve));
  }

  /** pino's destination interface: one JSON line per call. */
  write(line: string): void {
    // Most lines are readings and cursor moves: find those without parsing the others.
    if (line.includes('"event":"reading_recorded"')) {
      this.recordedLine(line);
      return;
    }
    if (line.includes('"event":"cursor_advanced"')) {
      this.confirmedLine(line);
      return;
    }
    if (line.includes('"event":"uplink_connected"')) {
      this.connected = true;
      for (const resolve of this.onConnected.splice(0)) resolve();
    } else if (line.includes('"event":"uplink_disconnected"') || line.includes('"event":"uplink_stopped"')) {
      this.connected = false;
    }
    if (line.includes('"level":"warn"') || line.includes('"level":"error"') || line.includes('"level":"fatal"')) {
      const event = /"event":"([^"]+)"/.exec(line)?.[1] ?? 'unnamed';
      this.sink.problem(event, line);
    }
  }

  private recordedLine(line: string): void {
    const r = JSON.parse(line) as { boot_id: string; seq: number; stream_id: string; measured_at: number; values: Record<string, number> };
    this.recorded++;
    this.sink.history.push({ deviceId: this.deviceId, bootId: r.boot_id, seq: r.seq, measuredAt: r.measured_at, values: r.values });
    const [ms, seq] = splitId(r.stream_id);
    this.pendingMs.push(ms);
    this.pendingSeq.push(seq);
    this.pendingMeasured.push(r.measured_at);
  }

  private confirmedLine(line: string): void {
    const to = (JSON.parse(line) as { to?: unknown }).to;
    if (typeof to !== 'string') return;
    const [ms, seq] = splitId(to);
    const at = this.now();
    while (this.head < this.pendingMs.length) {
      const pMs = this.pendingMs[this.head]!;
      if (pMs > ms || (pMs === ms && this.pendingSeq[this.head]! > seq)) break;
      const measured = this.pendingMeasured[this.head]!;
      this.sink.measuredAt.push(measured);
      this.sink.latencyMs.push(at - measured);
      this.head++;
      this.confirmed++;
    }
    if (this.head > 1024 && this.head * 2 > this.pendingMs.length) this.compact();
  }

  private compact(): void {
    this.pendingMs = this.pendingMs.slice(this.head);
    this.pendingSeq = this.pendingSeq.slice(this.head);
    this.pendingMeasured = this.pendingMeasured.slice(this.head);
    this.head = 0;
  }
}

/** A Redis stream id `ms-seq` as two numbers (both well inside 2^53). */
function splitId(id: string): [number, number] {
  const dash = id.indexOf('-');
  return dash < 0 ? [Number(id), 0] : [Number(id.slice(0, dash)), Number(id.slice(dash + 1))];
}
