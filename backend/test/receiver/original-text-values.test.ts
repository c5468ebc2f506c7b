import { BackendStack, type DatabaseKind } from '@iot/harness';
import { eventually } from '@iot/harness/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database, Series } from '../../src/db/index.ts';
import type { DeviceDetail, ReadingsPage } from '../../src/webadmin/api-routes.ts';
import { WebAdminUnderTest } from '../webadmin/webadmin-harness.ts';
import { FakeDevice } from './fake-device.ts';

/**
 * Defect (issue 14): the original's values are strings, and a non-numeric one ("n/a", "ok")
 * rejected the whole reading. Now text is stored as text (docs/protocol.md §9): a JSON string in
 * `values_json`, a number only where the strict grammar says so ("0x10" stays text, never 16).
 * Everything that reads values copes: rollups and series skip text, the readings API, the latest
 * values and the CSV export (formula-neutralised) carry it. Real broker, receiver and database.
 */
describe.each<DatabaseKind>(['sqlite', 'mariadb'])('original text values (%s)', (database) => {
  const stack = new BackendStack({ deviceIds: ['old-text'], broker: 'aedes', database });
  let old: FakeDevice;
  let db: Database;
  let web: WebAdminUnderTest;
  let cookie: string;
  const base = Math.floor((Date.now() - 3_600_000) / 60_000) * 60_000;
  const elements = [
    { _id: `${base}-0`, temperature_celsius: '21.5', status: 'ok' },
    { _id: `${base + 1000}-0`, temperature_celsius: '22.5', status: '=HYPERLINK("http://evil","x")' },
    { _id: `${base + 2000}-0`, temperature_celsius: 'n/a', status: '0x10' },
    { _id: `${base + 3000}-0`, temperature_celsius: '23.5', status: ' 12 ' },
  ];
  const api = async <T>(path: string): Promise<T> => {
    const response = await web.fetch(`/api/devices/old-text${path}`, { headers: { cookie } });
    expect(response.status, path).toBe(200);
    return (await response.json()) as T;
  };

  beforeAll(async () => {
    await stack.start();
    await stack.startReceiver();
    old = await FakeDevice.connect(stack.brokerPort, 'old-text', stack.login('old-text'));
    db = await stack.database();
    web = await WebAdminUnderTest.start(db);
    await db.users.create('alice', 'alice-pw', 'viewer');
    ({ cookie } = await web.login('alice', 'alice-pw'));
    await old.publish('values', elements);
    await eventually(async () => (await db.readings.countReadings('old-text')) === elements.length, 30_000, 'the four readings');
  }, 120_000);
  afterAll(async () => {
    await web?.close();
    await old?.close();
    await stack.dispose();
  });

  it('stores text as a JSON string and numbers as numbers, nothing rejected', async () => {
    const rows = await db.sql.read((sql) => sql.rows('SELECT values_json FROM readings WHERE device_id = ? ORDER BY measured_at', ['old-text']));
    expect(rows.map((r) => JSON.parse(String(r.values_json)))).toEqual([
      { temperature_celsius: 21.5, status: 'ok' },
      { temperature_celsius: 22.5, status: '=HYPERLINK("http://evil","x")' },
      { temperature_celsius: 'n/a', status: '0x10' },
      { temperature_celsius: 23.5, status: ' 12 ' },
    ]);
    expect((await db.rejections.listRejections(100)).filter((r) => r.deviceId === 'old-text')).toEqual([]);
  });

  it('answers text values as text in the readings API and the latest values', async () => {
    const page = await api<ReadingsPage>('/readings?order=asc');
    expect(page.readings.map((r) => r.values.status)).toEqual(['ok', '=HYPERLINK("http://evil","x")', '0x10', ' 12 ']);
    const detail = await api<DeviceDetail>('');
    expect(detail.latest?.values).toEqual({ temperature_celsius: 23.5, status: ' 12 ' });
  });

  it('leaves text out of rollups and series: a text metric has no series (docs/protocol.md §9)', async () => {
    const range = `from=${base}&to=${base + 10_000}`;
    const raw = await api<Series>(`/series?${range}&points=600`);
    expect(raw.resolution).toBe('raw');
    expect(Object.keys(raw.metrics)).toEqual(['temperature_celsius']);
    expect(raw.metrics.temperature_celsius!.map((p) => p[2])).toEqual([21.5, 22.5, 23.5]);
    // Fewer points than readings: the rollups answer, once the refresher in the receiver ran.
    const rolled = await eventually(
      async () => {
        const series = await api<Series>(`/series?${range}&points=2`);
        return series.metrics.temperature_celsius?.reduce((n, p) => n + p[4], 0) === 3 ? series : undefined;
      },
      30_000,
      'the minute rollup',
    );
    expect(rolled.resolution).toBe('minute');
    expect(Object.keys(rolled.metrics)).toEqual(['temperature_celsius']);
    expect(rolled.metrics.temperature_celsius).toEqual([[base, 21.5, 22.5, 23.5, 3]]);
  });

  it('exports text in the CSV as quoted text, formulas neutralised, numbers as numbers', async () => {
    const response = await web.fetch('/api/devices/old-text/readings.csv', { headers: { cookie } });
    expect(response.status).toBe(200);
    const lines = (await response.text()).trimEnd().split('\r\n');
    expect(lines[0]).toBe('"id","measured_at","received_at","boot_id","seq","status","temperature_celsius"');
    const cells = lines.slice(1).map((line) => line.split(',').slice(5).join(','));
    expect(cells).toEqual(['"ok",21.5', '"\'=HYPERLINK(""http://evil"",""x"")",22.5', '"0x10","n/a"', '"\' 12 ",23.5']);
  });
});
