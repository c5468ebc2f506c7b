import { el } from './dom.ts';
import { formatValue } from './format.ts';
import type { DevicePresence, DeviceRecord, DeviceStatus, Drift } from './types.ts';

/** online / offline / unknown (no status message yet) as a coloured badge. */
export function onlineBadge(online: boolean | null): HTMLElement {
  const state = online === null ? 'unknown' : online ? 'online' : 'offline';
  return el('span', { class: `badge badge-${state}`, 'data-testid': 'online-badge', 'data-state': state }, state);
}

/** What the page says of a presence inferred rather than reported (docs/original-devices.md §4). */
export const INFERRED_PRESENCE = 'no status from the original software; inferred from readings';

/** A duration compactly: "12 s", "5 min", "3 h", "2 d". */
export function durationText(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 90) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 36 ? `${hours} h` : `${Math.round(hours / 24)} d`;
}

/**
 * The presence badge: as the device's status said (v1), or, for an original device, inferred
 * from its readings and labelled as such: online, stale for how long, or unknown; never offline.
 */
export function presenceBadge(presence: DevicePresence): HTMLElement {
  if (presence.basis === 'status') return onlineBadge(presence.state === 'unknown' ? null : presence.state === 'online');
  const interval = presence.intervalMs === null ? 'too few readings to infer its interval' : `measures about every ${durationText(presence.intervalMs)}`;
  const text = presence.state === 'stale' ? `stale · ${durationText(presence.silentForMs)}` : presence.state;
  return el('span', { class: 'presence-inferred', 'data-testid': 'presence', 'data-basis': 'inferred' }, [
    el('span', { class: `badge badge-${presence.state}`, 'data-testid': 'online-badge', 'data-state': presence.state, title: `${INFERRED_PRESENCE} (${interval})` }, text),
    el('div', { class: 'muted small', 'data-testid': 'presence-basis' }, INFERRED_PRESENCE),
  ]);
}

/** The status message as the device sent it; anything else (original devices, garbage) counts as none. */
export function statusOf(device: DeviceRecord): DeviceStatus {
  return typeof device.status === 'object' && device.status !== null ? device.status : {};
}

/** The operator's name for the device, or its id. */
export function displayName(device: { id: string; name: string | null }): string {
  return device.name ?? device.id;
}

/** The link to a device's page (the id is encoded: it is an untrusted path segment). */
export function deviceHref(id: string): string {
  return `/devices/${encodeURIComponent(id)}`;
}

/** A key or field name that may break after `_` and `:` (long names in narrow columns). */
export function breakableName(name: string): Array<Node | string> {
  return name.split(/(?<=[_:])/).flatMap((part, i) => (i === 0 ? [part] : [el('wbr'), part]));
}

/** `name=value` rows for a reading's values, sorted by name, values aligned. */
export function valueList(values: Record<string, unknown>): HTMLElement {
  if (Object.keys(values).length === 0) return el('span', { class: 'muted' }, 'no values');
  return el(
    'ul',
    { class: 'values' },
    Object.entries(values)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, value]) => el('li', {}, [el('span', { class: 'value-name' }, [...breakableName(name), '=']), el('span', { class: 'value' }, formatValue(value))])),
  );
}

/** "on · every 5 s", "off", or "unknown" from the last status. */
export function measuringText(status: DeviceStatus): string {
  if (status.measuring === undefined) return 'unknown';
  const interval = status.interval_seconds === undefined ? '' : ` · every ${formatValue(status.interval_seconds)} s`;
  return `${status.measuring ? 'on' : 'off'}${interval}`;
}

/** "in sync" or the drifting keys (desired ≠ reported), highlighted. */
export function driftSummary(drift: readonly Drift[]): HTMLElement {
  if (drift.length === 0) return el('span', { class: 'in-sync', 'data-testid': 'config-drift', 'data-drift': 0 }, 'in sync');
  return el('span', { class: 'drift', 'data-testid': 'config-drift', 'data-drift': drift.length }, [
    'drift: ',
    ...drift.flatMap((d, i) => [
      i > 0 ? ', ' : '',
      el('abbr', { class: 'drift-key', title: `desired ${d.desired}, reported ${d.reported ?? '(none)'}` }, d.key),
    ]),
  ]);
}

/** The keys whose desired value differs from the reported one (also keys the device lacks). */
export function driftOf(desired: Record<string, string> | undefined, reported: Record<string, string> | undefined): Drift[] {
  if (desired === undefined) return [];
  // Keys are data: only the reported object's own keys count.
  const reportedValue = (key: string): string | null => (reported !== undefined && Object.hasOwn(reported, key) ? (reported[key] ?? null) : null);
  return Object.entries(desired)
    .filter(([key, value]) => reportedValue(key) !== value)
    .map(([key, value]) => ({ key, desired: value, reported: reportedValue(key) }));
}

/** A titled section box. */
export function section(title: string, attributes: Record<string, string>, children: Array<Node | string | null>): HTMLElement {
  return el('section', { class: 'card', ...attributes }, [el('h2', {}, title), ...children]);
}
