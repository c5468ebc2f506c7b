/**
 * CSV (RFC 4180) for spreadsheet users, safe to open whatever a spreadsheet makes of it.
 *
 * Field names and text come from devices and are untrusted (OWASP "CSV Injection"):
 *
 * - Every text cell, header cells included, is quoted, so no separator inside it can start a new
 *   cell, whichever one the spreadsheet guesses (`,`, `;` in many European locales, tab, `|`,
 *   space): `x;=1+1` stays one cell instead of becoming `x` and a formula.
 * - A text cell that a spreadsheet could read as a formula gets a leading apostrophe: one that
 *   starts with `=` `+` `-` `@`, also in fullwidth or small forms (`＝`, `﹦`, `＋`, `－`, `＠`,
 *   which NFKC folds to those, and which spreadsheets in CJK locales accept), or with whitespace
 *   or an invisible format character, which spreadsheets trim or skip before looking.
 * - Control characters (C0, DEL, C1, and the Unicode line and paragraph separators) become
 *   U+FFFD: tab and CR start formulas, and raw controls in a header confuse importers.
 *
 * Finite numbers are written as they are: a number cannot be a formula, and -3.5 must stay a
 * number. Empty cells (null, undefined) stay empty. So no separator occurs outside quotes but the
 * comma, and a spreadsheet that guesses another one reads a whole line as one cell, which starts
 * with the export's first column, the row id.
 */
const CONTROL = /[\p{Cc}\u2028\u2029]/gu;
const FORMULA_START = /^[=+\-@\u2212]/;
const BLANK_START = /^[\s\p{Cf}]/u;

/** One untrusted text as a quoted, neutralised cell. */
export function csvText(text: string): string {
  let safe = text.replace(CONTROL, '\uFFFD');
  if (FORMULA_START.test(safe.normalize('NFKC')) || BLANK_START.test(safe)) safe = `'${safe}`;
  return `"${safe.replaceAll('"', '""')}"`;
}

export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return csvText(typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value)));
}

/** One CSV line, CRLF-terminated as RFC 4180 §2 asks. */
export function csvLine(cells: readonly unknown[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}
