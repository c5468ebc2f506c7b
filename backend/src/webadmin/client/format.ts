import { el } from './dom.ts';

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** Epoch ms as the viewer's local date and time. */
export function localDateTime(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '—' : dateTime.format(new Date(ms));
}

/** How long ago `ms` was, e.g. "12 s ago", "3 min ago", "2 h ago", "5 d ago". */
export function relativeTime(ms: number, now: number = Date.now()): string {
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
  return el('time', { ...attributes, datetime: new Date(ms).toISOString(), title: localDateTime(ms), 'data-relative-time': ms }, relativeTime(ms));
}

/** Refreshes every relative time label on the page every few seconds. */
export function startRelativeTimeTicker(everyMs = 5000): void {
  setInterval(() => {
    const now = Date.now();
    for (const node of document.querySelectorAll<HTMLElement>('[data-relative-time]')) {
      const ms = Number(node.dataset.relativeTime);
      if (Number.isFinite(ms)) node.textContent = relativeTime(ms, now);
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
