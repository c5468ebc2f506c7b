/**
 * The Prometheus text exposition format 0.0.4, dependency-free: services keep their own counters
 * and describe them here as families; this renders, escapes and validates names.
 * https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */

/** The Content-Type of a scrape answer. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export type Labels = Readonly<Record<string, string | number>>;

export interface Sample {
  value: number;
  labels?: Labels;
  /** Appended to the family name: `_bucket`, `_sum` and `_count` for histograms. */
  suffix?: string;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: readonly Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Label values escape backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}

/** HELP text escapes backslash and line feed (a quote is fine there). */
export function escapeHelp(text: string): string {
  return text.replaceAll('\\', '\\\\').replaceAll('\n', '\\n');
}

/** Sample values as Go's ParseFloat reads them; infinities are spelt +Inf and -Inf. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

function formatLabels(labels: Labels | undefined): string {
  if (labels === undefined) return '';
  const pairs = Object.entries(labels).map(([name, value]) => {
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`invalid Prometheus label name "${name}"`);
    return `${name}="${escapeLabelValue(String(value))}"`;
  });
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

/** One family: its HELP and TYPE lines, then one line per sample. */
export function renderFamily(family: MetricFamily): string[] {
  if (!METRIC_NAME.test(family.name)) throw new Error(`invalid Prometheus metric name "${family.name}"`);
  return [
    `# HELP ${family.name} ${escapeHelp(family.help)}`,
    `# TYPE ${family.name} ${family.type}`,
    ...family.samples.map((sample) => `${family.name}${sample.suffix ?? ''}${formatLabels(sample.labels)} ${formatValue(sample.value)}`),
  ];
}

/** A whole scrape answer; the format wants a line feed after the last line. */
export function renderFamilies(families: readonly MetricFamily[]): string {
  return `${families.flatMap(renderFamily).join('\n')}\n`;
}

/**
 * The samples of a histogram: cumulative `_bucket` counts per upper bound (ending with `+Inf`),
 * `_sum` and `_count`. `counts[i]` is the number of observations in bucket i alone (not cumulative),
 * with one more entry than `upperBounds` for those above the last bound.
 */
export function histogramSamples(upperBounds: readonly number[], counts: readonly number[], sum: number, labels: Labels = {}): Sample[] {
  if (counts.length !== upperBounds.length + 1) throw new Error('a histogram needs one count per bucket plus one for +Inf');
  let cumulative = 0;
  const buckets = [...upperBounds, Number.POSITIVE_INFINITY].map((bound, i) => {
    cumulative += counts[i] ?? 0;
    return { suffix: '_bucket', labels: { ...labels, le: formatValue(bound) }, value: cumulative };
  });
  return [...buckets, { suffix: '_sum', labels, value: sum }, { suffix: '_count', labels, value: cumulative }];
}
