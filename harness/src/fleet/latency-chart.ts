/** One fleet size's latency percentiles, ms. */
export interface ChartPoint {
  devices: number;
  p50: number;
  p95: number;
  p99: number;
}

const WIDTH = 640;
const HEIGHT = 360;
const MARGIN = { left: 64, right: 110, top: 28, bottom: 44 };
const SERIES = [
  { key: 'p50', colour: '#2b7bb9' },
  { key: 'p95', colour: '#e08a1e' },
  { key: 'p99', colour: '#c0392b' },
] as const;
const TARGETS = [
  { ms: 50, label: 'P3: 50 ms' },
  { ms: 1000, label: 'P5: 1 s' },
];

/**
 * A small SVG line chart of latency against fleet size: p50, p95 and p99 on a log scale, with
 * the targets as dashed lines. No chart library: a few paths and labels are all it needs.
 */
export function latencyChart(points: readonly ChartPoint[], title: string): string {
  const sorted = [...points].sort((a, b) => a.devices - b.devices);
  const values = sorted.flatMap((p) => [p.p50, p.p95, p.p99]).filter((v) => v > 0);
  const lowest = Math.min(10, ...values);
  const highest = Math.max(2000, ...values);
  const logMin = Math.floor(Math.log10(lowest));
  const logMax = Math.ceil(Math.log10(highest));
  const maxDevices = Math.max(1, ...sorted.map((p) => p.devices));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (devices: number) => MARGIN.left + (devices / maxDevices) * plotW;
  const y = (ms: number) => MARGIN.top + plotH - ((Math.log10(Math.max(ms, lowest)) - logMin) / (logMax - logMin)) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="11">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="16" text-anchor="middle" font-size="13">${escapeXml(title)}</text>`,
  ];
  for (let e = logMin; e <= logMax; e++) {
    const ms = 10 ** e;
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y(ms)}" y2="${y(ms)}" stroke="#ddd"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${y(ms) + 4}" text-anchor="end">${ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`}</text>`);
  }
  for (const p of sorted) {
    parts.push(`<line x1="${x(p.devices)}" x2="${x(p.devices)}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH + 4}" stroke="#333"/>`);
    parts.push(`<text x="${x(p.devices)}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${p.devices}</text>`);
  }
  parts.push(`<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 8}" text-anchor="middle">virtual devices at 1 reading/s</text>`);
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  for (const target of TARGETS) {
    if (target.ms < 10 ** logMin || target.ms > 10 ** logMax) continue;
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y(target.ms)}" y2="${y(target.ms)}" stroke="#555" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${MARGIN.left + plotW + 6}" y="${y(target.ms) + 4}">${target.label}</text>`);
  }
  SERIES.forEach((series, i) => {
    const path = sorted.map((p, j) => `${j === 0 ? 'M' : 'L'}${x(p.devices).toFixed(1)},${y(p[series.key]).toFixed(1)}`).join(' ');
    parts.push(`<path d="${path}" fill="none" stroke="${series.colour}" stroke-width="2"/>`);
    for (const p of sorted) parts.push(`<circle cx="${x(p.devices).toFixed(1)}" cy="${y(p[series.key]).toFixed(1)}" r="3" fill="${series.colour}"/>`);
    parts.push(`<text x="${MARGIN.left + plotW + 6}" y="${MARGIN.top + 14 + i * 14}" fill="${series.colour}">${series.key}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
