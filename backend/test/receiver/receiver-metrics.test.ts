import { BackendStack } from '@iot/harness';
import { findFreePort } from '@iot/harness/processes';
import { eventually } from '@iot/harness/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeLabelValue, histogramSamples, renderFamilies } from '../../src/metrics/prometheus-text.ts';
import { FakeDevice } from './fake-device.ts';

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const VALUE = '(?:[-+]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][-+]?\\d+)?|NaN|[-+]Inf)';
const SAMPLE_LINE = new RegExp(`^(${NAME})(\\{(?:${LABEL}(?:,${LABEL})*)?\\})? (${VALUE})$`);

/**
 * Parses exposition text strictly enough to catch a malformed line: every line is a HELP, a TYPE
 * or `name{labels} value`, and every sample belongs to a family declared by a TYPE line before it.
 * Returns the samples keyed by `name{labels}` as written.
 */
function parseExposition(text: string): Map<string, number> {
  expect(text.endsWith('\n')).toBe(true);
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.slice(0, -1).split('\n')) {
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (/^# HELP \S+ .+$/.test(line)) continue;
    const sample = SAMPLE_LINE.exec(line);
    if (!sample) throw new Error(`not a valid exposition line: ${JSON.stringify(line)}`);
    const name = sample[1]!;
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    if (!types.has(family)) throw new Error(`sample ${name} has no TYPE line before it`);
    samples.set(`${name}${sample[2] ?? ''}`, Number(sample[3]!.replace('Inf', 'Infinity')));
  }
  return samples;
}

describe('receiver: GET /metrics counts what the receiver really did', () => {
  const stack = new BackendStack({ deviceIds: ['dev-1'], broker: 'aedes', database: 'sqlite' });
  let device: FakeDevice;
  let port: number;
  const scrape = async () => {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    return parseExposition(await response.text());
  };

  beforeAll(async () => {
    await stack.start();
    port = await findFreePort();
    await stack.startReceiver({ env: { RECEIVER_HEALTH_PORT: String(port) } });
    device = await FakeDevice.connect(stack.brokerPort, 'dev-1', stack.login('dev-1'));
  }, 60_000);
  afterAll(async () => {
    await device?.close();
    await stack.dispose();
  });

  it('starts with every known series at zero and the database up', async () => {
    const metrics = await scrape();
    expect(metrics.get('iot_receiver_messages_received_total{kind="batch"}')).toBe(0);
    expect(metrics.get('iot_receiver_rejections_total{reason="not_json"}')).toBe(0);
    expect(metrics.get('iot_receiver_batches_database_unavailable_total{kind="batch"}')).toBe(0);
    expect(metrics.get('iot_receiver_database_up')).toBe(1);
    expect(metrics.get('iot_receiver_batch_store_duration_seconds_bucket{le="+Inf"}')).toBe(0);
    expect(metrics.get('iot_receiver_uptime_seconds')).toBeGreaterThan(0);
    expect(metrics.get('iot_receiver_resident_memory_bytes')).toBeGreaterThan(10_000_000);
  });

  it('counts a stored batch, its duplicate, a bad entry and an invalid message', async () => {
    // No re-sends: each delivery must be exactly one message for the counts to be exact.
    const once = { resendMs: 15_000, timeoutMs: 15_000 };
    const batch = device.batch(device.entries(5));
    expect(await device.deliver(batch, once)).toMatchObject({ stored: 5, duplicates: 0 });
    device.acks.length = 0;
    expect(await device.deliver(batch, once)).toMatchObject({ stored: 0, duplicates: 5 });
    const [good, bad] = device.entries(2);
    expect(await device.deliver(device.batch([good, { ...bad!, seq: 'seven' }]), once)).toMatchObject({ stored: 1, rejected: 1 });
    await device.publish('readings', '{"v":1,');

    const metrics = await eventually(
      async () => {
        const scraped = await scrape();
        return scraped.get('iot_receiver_rejections_total{reason="not_json"}') === 1 && scraped.get('iot_receiver_messages_in_flight') === 0 && scraped;
      },
      10_000,
      'the invalid message to be counted and finished',
    );
    expect(metrics.get('iot_receiver_messages_received_total{kind="batch"}')).toBe(4);
    expect(metrics.get('iot_receiver_messages_received_total{kind="status"}')).toBe(0);
    expect(metrics.get('iot_receiver_readings_stored_total')).toBe(6);
    expect(metrics.get('iot_receiver_readings_duplicate_total')).toBe(5);
    expect(metrics.get('iot_receiver_readings_conflict_total')).toBe(0);
    expect(metrics.get('iot_receiver_rejections_total{reason="wrong_type"}')).toBe(1);
    expect(metrics.get('iot_receiver_rejections_total{reason="wrong_shape"}')).toBe(0);
    expect(metrics.get('iot_receiver_acks_published_total')).toBe(3);
    expect(metrics.get('iot_receiver_batches_database_unavailable_total{kind="batch"}')).toBe(0);
    expect(metrics.get('iot_receiver_database_up')).toBe(1);
    expect(metrics.get('iot_receiver_batch_store_duration_seconds_count')).toBe(3);
    expect(metrics.get('iot_receiver_batch_store_duration_seconds_bucket{le="+Inf"}')).toBe(3);
    expect(metrics.get('iot_receiver_batch_store_duration_seconds_sum')).toBeGreaterThan(0);
    expect(metrics.get('iot_receiver_batch_store_duration_seconds_bucket{le="0.001"}')).toBeLessThanOrEqual(metrics.get('iot_receiver_batch_store_duration_seconds_bucket{le="10"}')!);
  });

  it('still answers /health, and 404 elsewhere', async () => {
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    const other = await fetch(`http://127.0.0.1:${port}/metricz`);
    expect(other.status).toBe(404);
    expect(await other.json()).toEqual({ error: 'not found; try GET /health or GET /metrics' });
  });
});

describe('Prometheus text rendering', () => {
  it('escapes label values and HELP text, and spells infinities as the format wants', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    const text = renderFamilies([
      { name: 'x_total', help: 'with \\ and\nnewline', type: 'counter', samples: [{ labels: { route: 'say "hi"\n' }, value: 2 }] },
      { name: 'y', help: 'inf', type: 'gauge', samples: [{ value: Number.POSITIVE_INFINITY }, { labels: { k: 'n' }, value: Number.NaN }] },
    ]);
    expect(text).toBe(
      ['# HELP x_total with \\\\ and\\nnewline', '# TYPE x_total counter', 'x_total{route="say \\"hi\\"\\n"} 2', '# HELP y inf', '# TYPE y gauge', 'y +Inf', 'y{k="n"} NaN', ''].join('\n'),
    );
    expect([...parseExposition(text).keys()]).toEqual(['x_total{route="say \\"hi\\"\\n"}', 'y', 'y{k="n"}']);
  });

  it('renders histogram buckets cumulatively, ending with +Inf', () => {
    const samples = histogramSamples([0.1, 1], [2, 0, 1], 5.5);
    expect(samples.map((s) => [s.suffix, s.labels?.le, s.value])).toEqual([
      ['_bucket', '0.1', 2],
      ['_bucket', '1', 2],
      ['_bucket', '+Inf', 3],
      ['_sum', undefined, 5.5],
      ['_count', undefined, 3],
    ]);
  });

  it('refuses a name the format cannot carry', () => {
    expect(() => renderFamilies([{ name: 'bad-name', help: 'h', type: 'gauge', samples: [] }])).toThrow(/metric name/);
    expect(() => renderFamilies([{ name: 'ok', help: 'h', type: 'gauge', samples: [{ labels: { 'bad-label': 'v' }, value: 1 }] }])).toThrow(/label name/);
  });
});
