import { el } from './dom.ts';

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** The largest |epoch ms| a Date can hold (ECMAScript §21.4.1.22). */
const MAX_DATE_MS = 8.64e15;

/**
 * Whether `ms` is a time a Date can hold. Times come from devices and the database, and anything
 * else makes Intl and toISOString throw "Invalid time value", which would blank a whole page.
 */
export function isValidTime(ms: unknown): ms is number {
  return typeof ms === 'number' && Number.isFinite(ms) && Math.abs(ms) <= MAX_DATE_MS;
}

/** What a page shows for a time no Date can hold. */
export function invalidTimeText(ms: unknown): string {
  return `invalid time (${String(ms)})`;
}

/** Epoch ms as the viewer's local date and time; '—' for none, a marker for an impossible one. */
export function localDateTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  return isValidTime(ms) ? dateTime.format(new Date(ms)) : invalidTimeText(ms);
}

/** How long ago `ms` was, e.g. "12 s ago", "3 min ago", "2 h ago", "5 d ago". */
export function relativeTime(ms: number, now: number = Date.now()): string {
  if (!isValidTime(ms)) return invalidTimeText(ms);
  const seconds = Math.round((now - ms) / 1000);
  if (seconds < 0) return 'in the future';
  if (seconds < 90) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 36) return `${hours} h ago`;
  return `${Math.round(hours / 24)} d ago`;
}

/**
 * A "x s ago" label that keeps itself current (see {@link startRelativeTimeTicker}), with the
 * absolute local time as its tooltip.
 */
export function relativeTimeLabel(ms: number | null | undefined, attributes: Record<string, string> = {}): HTMLElement {
  if (ms === null || ms === undefined) return el('span', attributes, 'never');
  if (!isValidTime(ms)) return el('span', { ...attributes, class: 'invalid-time' }, invalidTimeText(ms));
  return el('time', { ...attributes, datetime: new Date(ms).toISOString(), title: localDateTime(ms), 'data-relative-time': ms }, relativeTime(ms));
}

/** Refreshes every relative time label on the page every few seconds. */
export function startRelativeTimeTicker(everyMs = 5000): void {
  setInterval(() => {
    const now = Date.now();
    for (const node of document.querySelectorAll<HTMLElement>('[data-relative-time]')) {
      const ms = Number(node.dataset.relativeTime);
      if (isValidTime(ms)) node.textContent = relativeTime(ms, now);
    }
  }, everyMs);
}

/** A measured value compactly: up to 3 decimals, no trailing zeros. */
export function formatValue(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Number(value.toFixed(3)));
  return typeof value === 'string' ? value : JSON.stringify(value) ?? '';
}

/** `value` for a `datetime-local` input (local time, minutes). */
export function toDateTimeLocal(ms: number): string {
  if (!isValidTime(ms)) return '';
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Epoch ms of a `datetime-local` input's value (local time), undefined when empty or invalid. */
export function fromDateTimeLocal(value: string): number | undefined {
  if (value === '') return undefined;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}
