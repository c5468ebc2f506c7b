import { apiGet, query } from './api.ts';
import { cardCell as cell, el, replaceChildren, scrollingTable } from './dom.ts';
import { FLEET_PAGE_SIZE, type FleetSort, type FleetView, fleetControls, fleetPager, sortableHead, viewFromLocation, viewQuery } from './fleet-controls.ts';
import { localDateTime, relativeTimeLabel } from './format.ts';
import { type LiveEvents, throttle } from './live.ts';
import type { FleetEntry, FleetPage } from './types.ts';
import { deviceHref, displayName, driftSummary, durationText, measuringText, presenceBadge, statusOf, valueList } from './widgets.ts';

/** Column titles, and the sort a title offers. */
const COLUMNS: ReadonlyArray<[string, FleetSort | null]> = [
  ['Device', 'name'],
  ['Status', 'status'],
  ['Last seen', 'last-seen'],
  ['Latest values', null],
  ['Readings', 'readings'],
  ['Backlog', null],
  ['Confirmed', null],
  ['Measuring', null],
  ['Configuration', null],
];

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
    cell('Readings', [String(entry.readings)], { class: 'num', 'data-testid': 'readings' }),
    cell('Backlog', [status.backlog === undefined ? '—' : String(status.backlog)], { class: 'num', 'data-testid': 'backlog' }),
    cell('Confirmed', [el('code', { class: 'nowrap' }, status.confirmed ?? '—')]),
    cell('Measuring', [measuringFor(entry)], { 'data-testid': 'measuring', class: 'nowrap' }),
    cell('Configuration', [driftSummary(entry.drift), el('div', { class: 'muted small' }, versionText(entry))]),
  ]);
}

function summary(page: FleetPage, view: FleetView): HTMLElement {
  const { devices, online, drifting } = page.fleet;
  const filtered = view.q.trim() !== '' || view.status !== '' || view.drift !== '';
  return el('p', { class: 'summary', 'data-testid': 'fleet-summary' }, [
    `${devices} device${devices === 1 ? '' : 's'}, ${online} online`,
    drifting === 0 ? '' : `, ${drifting} with configuration drift`,
    filtered ? el('span', { class: 'muted', 'data-testid': 'fleet-matching' }, ` · ${page.total} match${page.total === 1 ? '' : 'es'}`) : '',
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

/**
 * The fleet overview, a page at a time: presence, latest values, backlog and configuration drift
 * of the devices matching the search and filters, in the order chosen. The server searches,
 * filters, sorts and pages (GET /api/fleet); the view lives in the address.
 */
export function renderFleetPage(main: HTMLElement, live: LiveEvents): void {
  const view = viewFromLocation(location.search);
  const body = el('div', { 'data-testid': 'fleet' }, el('p', { class: 'muted' }, 'Loading…'));
  const controls = fleetControls(view, () => refresh());
  replaceChildren(main, [el('h1', {}, 'Fleet'), controls.element, body]);

  let presenceTimer: ReturnType<typeof setTimeout> | undefined;
  // Loads may overlap (a live reload while the operator pages): only the newest one is shown.
  let latestLoad = 0;
  const load = async (): Promise<void> => {
    const params = viewQuery(view);
    // Only when the view changed: a live reload leaves the address (and the history) alone.
    const address = `${location.pathname}${query(params)}`;
    if (address !== `${location.pathname}${location.search}`) history.replaceState(null, '', address);
    controls.sync();
    const mine = ++latestLoad;
    const page = await apiGet<FleetPage>(`/api/fleet${query({ ...params, limit: FLEET_PAGE_SIZE })}`);
    if (mine !== latestLoad) return;
    // The fleet shrank under a later page (or the address named one past the end): show the last one.
    if (page.devices.length === 0 && page.total > 0 && view.offset > 0) {
      view.offset = Math.floor((page.total - 1) / FLEET_PAGE_SIZE) * FLEET_PAGE_SIZE;
      refresh();
      return;
    }
    clearTimeout(presenceTimer);
    const wait = nextPresenceChange(page.devices);
    if (wait !== undefined) presenceTimer = setTimeout(() => refresh(), wait);
    if (page.fleet.devices === 0) {
      replaceChildren(body, el('p', { class: 'empty', 'data-testid': 'fleet-empty' }, 'No devices yet. They appear here after their first message.'));
      return;
    }
    const head = el('thead', {}, el('tr', {}, COLUMNS.map(([title, sort]) => (sort === null ? el('th', { scope: 'col' }, title) : sortableHead(title, sort, view, () => refresh())))));
    const rows =
      page.devices.length === 0
        ? [el('tr', {}, el('td', { colspan: COLUMNS.length, class: 'empty', 'data-testid': 'fleet-no-match' }, 'No device matches the search and filters.'))]
        : page.devices.map(deviceRow);
    const table = el('table', { class: 'fleet-table cards-on-phone', 'data-testid': 'fleet-table' }, [head, el('tbody', {}, rows)]);
    replaceChildren(body, [summary(page, view), scrollingTable(table), fleetPager(view, page.devices.length, page.total, () => refresh())]);
  };
  const refresh = throttle(load, 250);
  // Live events reload the page shown at most once a second (a fleet of thousands sends many).
  const liveRefresh = throttle(load, 1000);
  live.on('device', liveRefresh).on('readings', liveRefresh).onResync(liveRefresh);
  refresh();
}
