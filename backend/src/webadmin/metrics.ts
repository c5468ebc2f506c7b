import type { Clock } from '@iot/common/clock';
import type { Database } from '../db/index.ts';
import { renderFamilies } from '../metrics/prometheus-text.ts';

/** How long database counts are reused: a scrape needs no fresher figures, and the devices table is read less often. */
const COUNT_CACHE_MS = 15_000;

/** HTTP request counters and database gauges in the Prometheus text exposition format 0.0.4. */
export class WebAdminMetrics {
  private readonly requests = new Map<string, { method: string; route: string; status: number; count: number }>();
  private readonly db: Database;
  private readonly clock: Clock;
  private counts: { at: number; devices: number; readings: number } | undefined;

  constructor(db: Database, clock: Clock) {
    this.db = db;
    this.clock = clock;
  }

  /** Counts one answered request; `route` is the route template (e.g. /api/devices/:id), never the raw path. */
  countRequest(method: string, route: string, status: number): void {
    const key = `${method} ${route} ${status}`;
    const entry = this.requests.get(key) ?? { method, route, status, count: 0 };
    entry.count++;
    this.requests.set(key, entry);
  }

  /** The exposition text. */
  async render(): Promise<string> {
    const now = this.clock.now();
    if (this.counts === undefined || now - this.counts.at >= COUNT_CACHE_MS) {
      // From the per-device counters the readings' writes keep: no COUNT(*) over all readings.
      this.counts = { at: now, ...(await this.db.integrity.totals()) };
    }
    return renderFamilies([
      {
        name: 'webadmin_http_requests_total',
        help: 'HTTP requests answered, by method, route template and status.',
        type: 'counter',
        samples: [...this.requests.values()].map((r) => ({ labels: { method: r.method, route: r.route, status: r.status }, value: r.count })),
      },
      { name: 'iot_devices', help: 'Devices known to the backend (cached up to 15 s).', type: 'gauge', samples: [{ value: this.counts.devices }] },
      { name: 'iot_readings', help: 'Readings stored (cached up to 15 s).', type: 'gauge', samples: [{ value: this.counts.readings }] },
    ]);
  }
}
