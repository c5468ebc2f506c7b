/**
 * CSV (RFC 4180) for spreadsheet users. Field names and text come from devices and are
 * untrusted: a cell starting with = + - @ (or tab / carriage return) would run as a formula in
 * Excel or LibreOffice, so such text gets a leading apostrophe (OWASP "CSV Injection"). Finite
 * numbers are written as they are: a number cannot be a formula, and -3.5 must stay a number.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  let text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One CSV line, CRLF-terminated as RFC 4180 §2 asks. */
export function csvLine(cells: readonly unknown[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}
