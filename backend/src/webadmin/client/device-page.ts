import { apiGet, currentSession, devicePath, query } from './api.ts';
import { metricChart, pointsForWidth } from './chart.ts';
import { CommandHistory } from './command-history.ts';
import { ConfigEditor } from './config-editor.ts';
import { controlPanel } from './control-panel.ts';
import { DeviceHeader } from './device-header.ts';
import { el, replaceChildren } from './dom.ts';
import { isValidTime } from './format.ts';
import { type LiveEvents, throttle } from './live.ts';
import { RangePicker, type TimeRange } from './range-picker.ts';
import { ReadingsTable } from './readings-table.ts';
import type { DeviceDetail, ReadingsPage, Series } from './types.ts';
import { section } from './widgets.ts';

/**
 * The series query of a range. Presets end now, so `to` is pinned to the request time. The
 * server reads a missing `from` as "a day before `to`", so "all" starts at the device's first
 * stored reading (`firstReadingAt`).
 */
function seriesQuery(range: TimeRange, firstReadingAt: number | undefined, points: number): string {
  const to = range.to ?? Date.now();
  // A stored time can be anything a device sent; the API takes 0 … now, so clamp into that.
  const first = isValidTime(firstReadingAt) ? Math.max(0, Math.min(firstReadingAt, to)) : to;
  return query({ from: range.from ?? first, to, points });
}

/** When the device's first stored reading was measured (ids ascend in storing order). */
async function firstReadingAt(deviceId: string): Promise<number | undefined> {
  const { readings } = await apiGet<ReadingsPage>(devicePath(deviceId, '/readings?limit=1'));
  return readings[0]?.measuredAt;
}

/** One device: status, charts, readings, commands, configuration, command history; all live. */
export async function renderDevicePage(main: HTMLElement, deviceId: string, live: LiveEvents): Promise<void> {
  const { user } = await currentSession();
  const isAdmin = user.role === 'admin';

  const header = new DeviceHeader(deviceId, isAdmin, () => refreshDetail());
  const picker = new RangePicker(() => void showRange());
  const charts = el('div', { class: 'charts', 'data-testid': 'charts' });
  const readings = new ReadingsTable(deviceId);
  const csv = el('a', { class: 'button-link', 'data-testid': 'csv-export', download: '' }, 'Export CSV');
  const history = new CommandHistory(deviceId);
  const config = new ConfigEditor(deviceId, isAdmin, () => refreshDetail());
  const refreshHistory = throttle(() => history.refresh());

  replaceChildren(main, [
    header.element,
    el('div', { class: 'toolbar card' }, [picker.element]),
    section('Charts', { 'data-testid': 'charts-section' }, [charts]),
    section('Readings', { 'data-testid': 'readings-section' }, [el('div', { class: 'section-tools' }, [csv]), readings.element]),
    section('Control', { 'data-testid': 'control-section' }, [controlPanel(deviceId, isAdmin, refreshHistory)]),
    section('Configuration', { 'data-testid': 'config-section' }, [config.element]),
    section('Command history', { 'data-testid': 'history-section' }, [history.element]),
  ]);

  const loadDetail = async (): Promise<void> => {
    const detail = await apiGet<DeviceDetail>(devicePath(deviceId));
    header.update(detail);
    config.update(detail);
  };
  const refreshDetail = throttle(loadDetail);

  let lastSeries: Series | undefined;
  const drawCharts = (): void => {
    if (lastSeries === undefined) return;
    // Metric names are data from devices: taken as entries, never looked up as keys.
    const metrics = Object.entries(lastSeries.metrics).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (metrics.length === 0) {
      replaceChildren(charts, el('p', { class: 'empty', 'data-testid': 'charts-empty' }, 'No readings in this range.'));
      return;
    }
    const slots = metrics.map(() => el('div', { class: 'chart-slot' }));
    replaceChildren(charts, slots);
    const series = lastSeries;
    metrics.forEach(([name, points], i) => {
      const slot = slots[i];
      if (slot !== undefined) replaceChildren(slot, metricChart(name, Array.isArray(points) ? points : [], { from: series.from, to: series.to }, slot.clientWidth));
    });
  };
  const loadCharts = async (): Promise<void> => {
    const range = picker.resolve();
    const first = range.from === undefined ? await firstReadingAt(deviceId) : undefined;
    lastSeries = await apiGet<Series>(devicePath(deviceId, `/series${seriesQuery(range, first, pointsForWidth(charts.clientWidth))}`));
    drawCharts();
  };
  const refreshCharts = throttle(loadCharts);
  const refreshReadings = throttle(() => readings.refreshIfAffected(picker.resolve()));

  const showRange = async (): Promise<void> => {
    const range = picker.resolve();
    csv.href = devicePath(deviceId, `/readings.csv${query({ from: range.from, to: range.to })}`);
    refreshCharts();
    await readings.show(range);
  };

  live
    .on('readings', (event) => {
      if (event.deviceId !== deviceId) return;
      refreshDetail();
      if (picker.resolve().endsNow) {
        refreshCharts();
        refreshReadings();
      }
    })
    .on('device', (event) => {
      if (event.id === deviceId) refreshDetail();
    })
    .on('commands', (event) => {
      if (event.deviceId === deviceId) refreshHistory();
    })
    .onResync(() => {
      refreshDetail();
      refreshCharts();
      refreshReadings();
      refreshHistory();
    });

  const redraw = throttle(drawCharts, 250);
  window.addEventListener('resize', redraw);
  refreshDetail();
  refreshHistory();
  await showRange();
}
