import { el, svg } from './dom.ts';
import { formatValue, isValidTime, localDateTime } from './format.ts';
import type { SeriesPoint } from './types.ts';

const HEIGHT = 220;
const MARGIN = { top: 12, right: 14, bottom: 28, left: 56 };
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const TIME_STEPS = [SECOND, 5 * SECOND, 15 * SECOND, 30 * SECOND, MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 30 * DAY];

/** How many points to ask the series endpoint for: about one per 2 px, at most 2000. */
export function pointsForWidth(widthPx: number): number {
  return Math.max(10, Math.min(2000, Math.floor(widthPx / 2)));
}

/** Round tick values (1, 2, 5 × 10^n) covering [min, max]. */
export function valueTicks(min: number, max: number, count = 5): number[] {
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step / 1e6; v += step) ticks.push(Number(v.toFixed(10)));
  return ticks;
}

/** Tick times at local-clock multiples of a step that fits `maxTicks` into [from, to]. */
function timeTicks(from: number, to: number, maxTicks: number): { ticks: number[]; step: number } {
  // Past the table, whole multiples of 30 days: a span of centuries must not mean millions of ticks.
  const step = TIME_STEPS.find((s) => (to - from) / s <= maxTicks) ?? Math.ceil((to - from) / maxTicks / (30 * DAY)) * 30 * DAY;
  const offset = -new Date(from).getTimezoneOffset() * MINUTE;
  const ticks: number[] = [];
  for (let t = Math.ceil((from + offset) / step) * step - offset; t <= to && ticks.length <= maxTicks; t += step) ticks.push(t);
  return { ticks, step };
}

/** Points a chart can place: a time a Date can hold and finite values (the rest is left out, not drawn wrong). */
function drawable(points: readonly SeriesPoint[]): SeriesPoint[] {
  return points.filter((p) => isValidTime(p[0]) && p.slice(1).every((v) => typeof v === 'number' && Number.isFinite(v)));
}

const clockFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const secondsFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const dayClockFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

function timeLabel(t: number, step: number, span: number): string {
  if (step < MINUTE) return secondsFormat.format(t);
  if (step >= DAY) return dayFormat.format(t);
  return span > DAY ? dayClockFormat.format(t) : clockFormat.format(t);
}

/** Splits the points where the spacing jumps (device off, no data), so no line bridges a gap. */
function runs(points: readonly SeriesPoint[]): SeriesPoint[][] {
  if (points.length < 3) return [points.slice()];
  const gaps = points.slice(1).map((p, i) => p[0] - (points[i]?.[0] ?? p[0]));
  const typical = [...gaps].sort((a, b) => a - b)[Math.floor(gaps.length / 2)] ?? 0;
  const result: SeriesPoint[][] = [[]];
  points.forEach((point, i) => {
    if (i > 0 && typical > 0 && (gaps[i - 1] ?? 0) > typical * 4) result.push([]);
    result.at(-1)?.push(point);
  });
  return result;
}

export interface ChartDomain {
  from: number | undefined;
  to: number | undefined;
}

/**
 * One metric as an SVG chart: the min–max band of each bucket, the mean as a line, value and time
 * axes, and a readout of the bucket under the pointer. Sized to `widthPx`, scaled by CSS.
 */
export function metricChart(metric: string, series: readonly SeriesPoint[], domain: ChartDomain, widthPx: number): HTMLElement {
  const points = drawable(series);
  const readout = el('div', { class: 'chart-readout muted small', 'aria-live': 'polite' });
  const figure = el('figure', { class: 'chart', 'data-testid': `chart-${metric}`, 'data-points': points.length }, [el('figcaption', {}, metric)]);
  if (points.length === 0) {
    figure.append(el('p', { class: 'empty' }, 'No data in this range.'));
    return figure;
  }
  const width = Math.max(260, Math.round(widthPx));
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const first = points[0]?.[0] ?? 0;
  const last = points.at(-1)?.[0] ?? first;
  let t0 = isValidTime(domain.from) ? domain.from : first;
  let t1 = isValidTime(domain.to) ? domain.to : last;
  // Data that starts well inside the range (a new device, a long pause) would be a sliver at
  // the right edge: the axis then starts at the data, and the caption says so.
  const clipped = first - t0 > (t1 - t0) * 0.1;
  if (clipped) t0 = first - (t1 - first) * 0.02;
  if (t1 <= t0) [t0, t1] = [first - MINUTE, last + MINUTE];
  let lo = Math.min(...points.map((p) => p[1]));
  let hi = Math.max(...points.map((p) => p[3]));
  if (hi - lo < 1e-9) [lo, hi] = [lo - 1, hi + 1];
  const pad = (hi - lo) * 0.06;
  lo -= pad;
  hi += pad;
  const x = (t: number) => MARGIN.left + ((t - t0) / (t1 - t0)) * plotW;
  const y = (v: number) => MARGIN.top + (1 - (v - lo) / (hi - lo)) * plotH;
  const xy = (t: number, v: number) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`;

  const grid = valueTicks(lo, hi).map((v) =>
    svg('g', {}, [
      svg('line', { x1: MARGIN.left, x2: width - MARGIN.right, y1: y(v), y2: y(v), class: 'grid' }),
      svg('text', { x: MARGIN.left - 6, y: y(v), 'text-anchor': 'end', 'dominant-baseline': 'middle', class: 'axis-label' }, formatValue(v)),
    ]),
  );
  const { ticks, step } = timeTicks(t0, t1, Math.max(2, Math.floor(plotW / 90)));
  // Labels near the edges are anchored inwards so they are not cut off.
  const anchor = (px: number) => (px > width - 50 ? 'end' : px < MARGIN.left + 30 ? 'start' : 'middle');
  const timeAxis = ticks.map((t) =>
    svg('g', {}, [
      svg('line', { x1: x(t), x2: x(t), y1: MARGIN.top + plotH, y2: MARGIN.top + plotH + 4, class: 'axis' }),
      svg('text', { x: x(t), y: HEIGHT - 8, 'text-anchor': anchor(x(t)), class: 'axis-label' }, timeLabel(t, step, t1 - t0)),
    ]),
  );
  const shapes = runs(points).flatMap((run) => {
    if (run.length === 1 && run[0] !== undefined) {
      const [t, min, mean, max] = run[0];
      return [svg('line', { x1: x(t), x2: x(t), y1: y(min), y2: y(max), class: 'band-line' }), svg('circle', { cx: x(t), cy: y(mean), r: 2.5, class: 'mean-dot' })];
    }
    const band = `M${run.map((p) => xy(p[0], p[3])).join('L')}L${[...run].reverse().map((p) => xy(p[0], p[1])).join('L')}Z`;
    return [svg('path', { d: band, class: 'band' }), svg('path', { d: `M${run.map((p) => xy(p[0], p[2])).join('L')}`, class: 'mean' })];
  });
  const cursor = svg('line', { x1: 0, x2: 0, y1: MARGIN.top, y2: MARGIN.top + plotH, class: 'cursor', visibility: 'hidden' });
  const chart = svg('svg', { viewBox: `0 0 ${width} ${HEIGHT}`, role: 'img', 'aria-label': `${metric} over time`, class: 'chart-svg' }, [
    ...grid,
    svg('line', { x1: MARGIN.left, x2: width - MARGIN.right, y1: MARGIN.top + plotH, y2: MARGIN.top + plotH, class: 'axis' }),
    ...timeAxis,
    ...shapes,
    cursor,
  ]);
  chart.addEventListener('pointermove', (event) => {
    const box = chart.getBoundingClientRect();
    const t = t0 + (((event.clientX - box.left) * (width / box.width) - MARGIN.left) / plotW) * (t1 - t0);
    const nearest = points.reduce((best, p) => (Math.abs(p[0] - t) < Math.abs(best[0] - t) ? p : best));
    const [pt, min, mean, max, count] = nearest;
    cursor.setAttribute('x1', String(x(pt)));
    cursor.setAttribute('x2', String(x(pt)));
    cursor.setAttribute('visibility', 'visible');
    readout.textContent = `${localDateTime(pt)}: mean ${formatValue(mean)} (min ${formatValue(min)}, max ${formatValue(max)}, ${count} reading${count === 1 ? '' : 's'})`;
  });
  const summary = `${points.length} point${points.length === 1 ? '' : 's'}${clipped && domain.from !== undefined ? ` · no data from ${localDateTime(domain.from)} to ${localDateTime(first)}` : ''}`;
  readout.textContent = summary;
  chart.addEventListener('pointerleave', () => {
    cursor.setAttribute('visibility', 'hidden');
    readout.textContent = summary;
  });
  figure.append(chart, readout);
  return figure;
}
