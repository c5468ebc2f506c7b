import { makeTempDir } from '@iot/harness/processes';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/index.ts';
import { csvLine } from '../../src/webadmin/csv.ts';
import { WebAdminUnderTest } from './webadmin-harness.ts';

/** Texts a spreadsheet could run as formulas, or that break an import, by the ways they sneak past. */
const HOSTILE = [
  '=1+1',
  '+1+1',
  '-1+1',
  '@SUM(A1)',
  'x;=1+1',
  'x,=1+1',
  'x\t=1+1',
  'x|=1+1',
  'x =1+1',
  ' =1+1',
  '\u00a0=1+1',
  '\u3000=1+1',
  '\u200b=1+1',
  '\ufeff=1+1',
  '＝1+1',
  '﹦1+1',
  '＋1',
  '－1',
  '＠SUM(A1)',
  '\t=1+1',
  '\r=1+1',
  '\n=1+1',
  'bell\u0007=1+1',
  'esc\u001b[31m',
  'nul\u0000',
  'c1\u0085=1',
  'line\u2028=1',
  '"=1+1"',
  '=HYPERLINK("http://evil","x")',
];
const SEPARATORS = [',', ';', '\t', '|', ' '];
const FORMULA = /^[=+\-@]/;

/**
 * Splits CSV the way a spreadsheet that honours RFC 4180 quotes does, with a separator it guessed.
 * A text cell may come out with its quotes' content, never more than one cell per quoted field.
 */
function parse(text: string, separator: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === separator) {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  return rows;
}

/** What a spreadsheet might see first: after folding width (NFKC) and trimming what it trims. */
const startOf = (cell: string) => cell.normalize('NFKC').replace(/^[\s\p{Cf}\p{Cc}]+/u, '');

describe('CSV export cells', () => {
  // Lines start with the row id, as the export's do: read with a separator that is in no line
  // outside quotes, a whole line is one cell, and it starts with that id.
  const text = csvLine([1, ...HOSTILE]) + csvLine([2, -3.5, null, undefined, 'plain', { a: '=1' }]);

  it('leaves no cell a spreadsheet could read as a formula, whatever separator it guesses', () => {
    for (const separator of SEPARATORS) {
      for (const cell of parse(text, separator).flat()) {
        if (/^-?\d+(\.\d+)?$/.test(cell)) continue;
        expect(FORMULA.test(startOf(cell)), `separator ${JSON.stringify(separator)}: cell ${JSON.stringify(cell)}`).toBe(false);
      }
    }
  });

  it('keeps each text one cell with its content, controls replaced, and numbers as numbers', () => {
    const [hostile, plain] = parse(text, ',');
    expect(hostile).toHaveLength(1 + HOSTILE.length);
    expect(hostile?.slice(1, 6)).toEqual(["'=1+1", "'+1+1", "'-1+1", "'@SUM(A1)", 'x;=1+1']);
    expect(hostile?.[10]).toBe("' =1+1");
    expect(hostile?.[15]).toBe("'＝1+1");
    expect(hostile?.[23]).toBe('bell\uFFFD=1+1');
    expect(plain).toEqual(['2', '-3.5', '', '', 'plain', "{\"a\":\"=1\"}"]);
    // Nothing but the line ends is a control character.
    expect(/[\p{Cc}\u2028\u2029]/u.test(text.replaceAll('\r\n', ''))).toBe(false);
  });

  it('does the same for field names in the exported header', async () => {
    const dir = makeTempDir('webadmin-csv');
    const db = await openDatabase({ kind: 'sqlite', path: `${dir.path}/db.sqlite` });
    const web = await WebAdminUnderTest.start(db);
    try {
      await db.users.create('alice', 'alice-pw', 'viewer');
      const values = Object.fromEntries(HOSTILE.map((name, i) => [name, i]));
      await db.readings.storeReadings('dev-csv', [{ bootId: 'b1', seq: 1, streamId: '1-0', measuredAt: 1000, values: { ...values, note: 'x;=cmd|calc' } as unknown as Record<string, number> }]);
      const { cookie } = await web.login('alice', 'alice-pw');
      const csv = await (await web.fetch('/api/devices/dev-csv/readings.csv', { headers: { cookie } })).text();
      for (const separator of SEPARATORS) {
        const [header, row] = parse(csv, separator);
        for (const cell of [...(header ?? []), ...(row ?? [])]) {
          if (/^-?\d+(\.\d+)?$/.test(cell)) continue;
          expect(FORMULA.test(startOf(cell)), `separator ${JSON.stringify(separator)}: cell ${JSON.stringify(cell)}`).toBe(false);
        }
      }
      expect(parse(csv, ',')[0]).toHaveLength(5 + HOSTILE.length + 1);
      expect(/[\p{Cc}\u2028\u2029]/u.test(csv.replaceAll('\r\n', ''))).toBe(false);
    } finally {
      await web.close();
      await db.close();
      dir.remove();
    }
  });
});

