/** The largest |epoch ms| a Date can hold (ECMAScript §21.4.1.22): ±100,000,000 days. */
export const MAX_DATE_MS = 8.64e15;

/**
 * Epoch ms as ISO 8601 for exports, or a marker for a time no Date can hold. Times come from
 * devices and the database; `toISOString` throws "Invalid time value" on those, which cut an
 * export short, so they are shown for what they are instead: `invalid time (<value>)`.
 */
export function isoTime(ms: unknown): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || Math.abs(ms) > MAX_DATE_MS) return `invalid time (${String(ms)})`;
  return new Date(ms).toISOString();
}
