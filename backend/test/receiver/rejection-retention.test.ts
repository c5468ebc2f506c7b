import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureLogs, ManualClock } from '@iot/harness/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/db/index.ts';
import { parseReceiverConfig } from '../../src/receiver/config.ts';
import { DatabaseGate } from '../../src/receiver/database-gate.ts';
import { databaseIngestStore } from '../../src/receiver/database-ingest-store.ts';
import { DEFAULT_LIMITS, limitsFromConfig } from '../../src/receiver/limits.ts';
import { ReceiverMetrics } from '../../src/receiver/metrics.ts';
import { RejectionLog } from '../../src/receiver/rejection-log.ts';

const DAY_MS = 86_400_000;
const SWEEP_MS = 60_000;

/**
 * Retention of rejected_messages (defect 3): by age and by row count, applied by the receiver's
 * periodic sweep on its injected clock, against a real SQLite database. The clock moves only when
 * the test moves it, so "30 days later" takes no time and no sleep.
 */
describe('rejection retention', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iot-retention-'));
  const open: Database[] = [];
  afterEach(async () => {
    for (const db of open.splice(0)) await db.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function setUp(limits: Partial<typeof DEFAULT_LIMITS>) {
    const clock = new ManualClock();
    const db = await openDatabase({ kind: 'sqlite', path: join(dir, `db-${open.length}-${Date.now()}.sqlite`) }, { clock });
    open.push(db);
    const store = databaseIngestStore(db);
    const { logger, find } = captureLogs('receiver');
    const gate = new DatabaseGate({ clock, logger, probe: () => store.ping() });
    const log = new RejectionLog({ store, gate, clock, logger, metrics: new ReceiverMetrics(), limits: { ...DEFAULT_LIMITS, rejectionSweepMs: SWEEP_MS, ...limits } });
    const record = (n: number, count = 1) =>
      log.record(Array.from({ length: n }, (_, i) => ({ topic: 't', deviceId: `dev-${i}`, reason: 'not_json' as const, detail: 'x', payload: Buffer.from('{'), count })));
    const counts = async () => Number((await db.sql.read((sql) => sql.rows('SELECT COUNT(*) AS n FROM rejected_message_counts')))[0]?.n);
    return { clock, db, log, record, counts, find };
  }

  /** Lets the sweep loop run once: advance to its wake-up, then wait for what it logs or leaves behind. */
  async function sweepOnce(clock: ManualClock, until: () => Promise<boolean>): Promise<void> {
    await clock.advanceUntil(until, SWEEP_MS, 'a sweep to have applied retention');
  }

  it('deletes rows older than the retention, with their counts, keeping newer ones', async () => {
    const { clock, db, log, record, counts, find } = await setUp({ rejectionRetentionDays: 30 });
    const stop = new AbortController();
    const running = log.run(stop.signal);
    await record(5, 7);
    clock.advance(20 * DAY_MS);
    await record(3);
    expect(await db.rejections.countRejections()).toBe(8);
    expect(await counts()).toBe(5);

    clock.advance(11 * DAY_MS - SWEEP_MS);
    await sweepOnce(clock, async () => (await db.rejections.countRejections()) === 3);
    expect(await counts()).toBe(0);
    expect(find('rejections_pruned')).toMatchObject([{ by_age: 5, by_count: 0 }]);
    stop.abort();
    await running;
  });

  it('keeps at most the configured number of rows, the newest', async () => {
    const { clock, db, log, record } = await setUp({ rejectionMaxRows: 100 });
    const stop = new AbortController();
    const running = log.run(stop.signal);
    for (let i = 0; i < 5; i++) {
      await record(50);
      clock.advance(1000);
    }
    const newest = (await db.rejections.listRejections(100)).map((r) => r.id);
    await sweepOnce(clock, async () => (await db.rejections.countRejections()) === 100);
    expect((await db.rejections.listRejections(1000)).map((r) => r.id)).toEqual(newest);
    stop.abort();
    await running;
  });

  it('takes its limits from validated receiver env vars', () => {
    const base = { MQTT_HOST: 'localhost' };
    expect(limitsFromConfig(parseReceiverConfig(base))).toEqual(DEFAULT_LIMITS);
    const custom = limitsFromConfig(parseReceiverConfig({ ...base, RECEIVER_REJECTION_RETENTION_DAYS: '7', RECEIVER_REJECTION_MAX_ROWS: '5000', RECEIVER_MAX_FIELDS_PER_READING: '16' }));
    expect(custom).toMatchObject({ rejectionRetentionDays: 7, rejectionMaxRows: 5000, maxFieldsPerReading: 16 });
    const invalid = () => parseReceiverConfig({ ...base, RECEIVER_REJECTION_RETENTION_DAYS: '0', RECEIVER_MAX_METRICS_PER_DEVICE: 'many' });
    expect(invalid).toThrow(/RECEIVER_REJECTION_RETENTION_DAYS: must be at least 1 \(got "0"\)/);
    expect(invalid).toThrow(/RECEIVER_MAX_METRICS_PER_DEVICE: must be a whole number from 1 to 100000 \(got "many"\)/);
  });
});
