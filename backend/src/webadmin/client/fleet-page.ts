import { apiGet } from './api.ts';
import { cardCell as cell, el, headRow, replaceChildren, scrollingTable } from './dom.ts';
import { localDateTime, relativeTimeLabel } from './format.ts';
import { type LiveEvents, throttle } from './live.ts';
import type { FleetEntry } from './types.ts';
import { deviceHref, displayName, driftSummary, durationText, measuringText, presenceBadge, statusOf, valueList } from './widgets.ts';

const COLUMNS = ['Device', 'Status', 'Last seen', 'Latest values', 'Backlog', 'Confirmed', 'Measuring', 'Configuration'];

function versionText(entry: FleetEntry): string {
  const reported = entry.reportedConfig?.version ?? statusOf(entry.device).config_version;
  if (entry.desiredConfig === null) return reported === undefined ? 'nothing desired' : `nothing desired · reported v${reported}`;
  return `reported v${reported ?? '–'} · desired v${entry.desiredConfig.version}`;
}

/** From the status; for an original device, which reports none, the interval its readings came at. */
function measuringFor(entry: FleetEntry): string {
  const { presence } = entry;
  if (presence.basis === 'inferred' && presence.intervalMs !== null) return `unknown · readings every ~${durationText(presence.intervalMs)}`;
  return measuringText(statusOf(entry.device));
}

function deviceRow(entry: FleetEntry): HTMLTableRowElement {
  const { device, latest } = entry;
  const status = statusOf(device);
  const name = el('a', { href: deviceHref(device.id), class: 'device-link', 'data-testid': 'device-link' }, displayName(device));
  const drifting = entry.drift.length > 0;
  return el('tr', { 'data-testid': 'device-row', 'data-device-id': device.id, class: drifting ? 'row-drift' : null }, [
    el('th', { scope: 'row', 'data-label': 'Device' }, el('div', { class: 'cell-body' }, [name, device.name === null ? null : el('div', { class: 'muted small' }, device.id)])),
    cell('Status', [presenceBadge(entry.presence)]),
    cell('Last seen', [relativeTimeLabel(device.lastSeenAt, { 'data-testid': 'last-seen' })]),
    cell('Latest values', latest === null ? [el('span', { class: 'muted' }, 'no readings yet')] : [valueList(latest.values), el('div', { class: 'muted small' }, localDateTime(latest.measuredAt))], {
      'data-testid': 'latest-values',
    }),
    cell('Backlog', [status.backlog === undefined ? '—' : String(status.backlog)], { class: 'num', 'data-testid': 'backlog' }),
    cell('Confirmed', [el('code', { class: 'nowrap' }, status.confirmed ?? '—')]),
    cell('Measuring', [measuringFor(entry)], { 'data-testid': 'measuring', class: 'nowrap' }),
    cell('Configuration', [driftSummary(entry.drift), el('div', { class: 'muted small' }, versionText(entry))]),
  ]);
}

function summary(entries: readonly FleetEntry[]): HTMLElement {
  const online = entries.filter((e) => e.presence.state === 'online').length;
  const drifting = entries.filter((e) => e.drift.length > 0).length;
  return el('p', { class: 'summary', 'data-testid': 'fleet-summary' }, [
    `${entries.length} device${entries.length === 1 ? '' : 's'}, ${online} online`,
    drifting === 0 ? '' : `, ${drifting} with configuration drift`,
  ]);
}

/** How often the page reloads while an inferred presence is stale, to keep its "stale · 5 min" current. */
const STALE_REFRESH_MS = 60_000;

/**
 * When the fleet must be loaded again without any event: an original device that falls silent
 * sends none, so its inferred presence turns stale only on a reload (docs/original-devices.md §4).
 */
function nextPresenceChange(entries: readonly FleetEntry[]): number | undefined {
  const waits = entries.flatMap(({ presence }) => {
    if (presence.basis !== 'inferred') return [];
    if (presence.state === 'stale') return [STALE_REFRESH_MS];
    return presence.state === 'online' && presence.onlineWithinMs !== null ? [presence.onlineWithinMs - presence.silentForMs + 500] : [];
  });
  return waits.length === 0 ? undefined : Math.max(500, Math.min(...waits));
}

/** The fleet overview: every device with presence, latest values, backlog and configuration drift. */
export function renderFleetPage(main: HTMLElement, live: LiveEvents): void {
  const body = el('div', { 'data-testid': 'fleet' }, el('p', { class: 'muted' }, 'Loading…'));
  replaceChildren(main, [el('h1', {}, 'Fleet'), body]);

  let presenceTimer: ReturnType<typeof setTimeout> | undefined;
  const load = async (): Promise<void> => {
    const { devices } = await apiGet<{ devices: FleetEntry[] }>('/api/fleet');
    clearTimeout(presenceTimer);
    const wait = nextPresenceChange(devices);
    if (wait !== undefined) presenceTimer = setTimeout(() => refresh(), wait);
    if (devices.length === 0) {
      replaceChildren(body, el('p', { class: 'empty', 'data-testid': 'fleet-empty' }, 'No devices yet. They appear here after their first message.'));
      return;
    }
    const sorted = [...devices].sort((a, b) => displayName(a.device).localeCompare(displayName(b.device)));
    const table = el('table', { class: 'fleet-table cards-on-phone', 'data-testid': 'fleet-table' }, [headRow(COLUMNS), el('tbody', {}, sorted.map(deviceRow))]);
    replaceChildren(body, [summary(devices), scrollingTable(table)]);
  };
  const refresh = throttle(load);
  live.on('device', refresh).on('readings', refresh).onResync(refresh);
  refresh();
}
