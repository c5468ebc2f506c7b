import { describe, expect, it } from 'vitest';
import { checkDelivery, type RecordedReading, type StoredReading } from '../src/checker/delivery-checker.ts';

const boot = 'aaaaaaaaaaaaaaaa';
const recorded = (seq: number, t = 20): RecordedReading => ({ deviceId: 'd1', bootId: boot, seq, measuredAt: 1000 + seq, values: { temperature_celsius: t } });
const stored = (seq: number, t = 20, receivedDelay = 100): StoredReading => ({
  deviceId: 'd1',
  readingKey: `${boot}:${seq}`,
  measuredAt: 1000 + seq,
  receivedAt: 1000 + seq + receivedDelay,
  values: { temperature_celsius: t },
});

describe('delivery checker', () => {
  it('counts lost, duplicated, corrupted and unexpected readings separately', () => {
    const report = checkDelivery(
      [recorded(1), recorded(2), recorded(3), recorded(4), recorded(4)],
      [stored(1), stored(2), stored(2), stored(3, 99), stored(5)],
    );
    expect(report).toMatchObject({ recorded: 4, stored: 5, lost: 1, duplicated: 1, corrupted: 1, unexpected: 1 });
    expect(report.examples).toEqual({ lost: [`d1/${boot}:4`], duplicated: [`d1/${boot}:2`], corrupted: [`d1/${boot}:3`] });
  });

  it('reports a clean run as clean, with latency percentiles', () => {
    const history = Array.from({ length: 100 }, (_, i) => recorded(i + 1));
    const rows = history.map((r) => stored(r.seq, 20, r.seq));
    const report = checkDelivery(history, rows);
    expect(report).toMatchObject({ recorded: 100, stored: 100, lost: 0, duplicated: 0, corrupted: 0, unexpected: 0 });
    expect(report.latencyMs).toEqual({ p50: 51, p95: 96, p99: 100, max: 100 });
  });

  it('tells devices apart: the same boot id and sequence on two devices are two readings', () => {
    const other = { ...recorded(1), deviceId: 'd2' };
    const report = checkDelivery([recorded(1), other], [stored(1)]);
    expect(report).toMatchObject({ recorded: 2, lost: 1 });
  });
});
