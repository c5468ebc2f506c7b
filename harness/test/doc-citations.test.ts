import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** This file's examples are not citations. */
const SELF = 'harness/test/doc-citations.test.ts';

/** `docs/x.md §3`, `docs/x.md §1–§4`, `docs/x.md §2, §8` → the file and the section numbers named. */
const CITATION = /docs\/([a-z0-9-]+\.md)((?:\s*§\d+(?:\s*[–-]\s*§?\d+)?(?:\s*,\s*§\d+(?:\s*[–-]\s*§?\d+)?)*)?)/g;

function sectionsOf(text: string): Set<number> {
  return new Set([...text.matchAll(/^## (\d+)\./gm)].map((m) => Number(m[1])));
}

function citedSections(spec: string): number[] {
  const numbers: number[] = [];
  for (const part of spec.split(',')) {
    const range = /§(\d+)(?:\s*[–-]\s*§?(\d+))?/.exec(part);
    if (range === null) continue;
    const from = Number(range[1]);
    const to = range[2] === undefined ? from : Number(range[2]);
    for (let n = from; n <= to; n++) numbers.push(n);
  }
  return numbers;
}

describe('citations of the design documents', () => {
  it('name documents and sections that exist', () => {
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
      .split('\n')
      .filter((f) => /\.(ts|md|conf|yml|feature|sh)$|Dockerfile/.test(f) && f !== SELF && existsSync(join(root, f)));
    const broken: string[] = [];
    let citations = 0;
    for (const file of files) {
      const text = readFileSync(join(root, file), 'utf8');
      for (const match of text.matchAll(CITATION)) {
        citations++;
        const doc = join(root, 'docs', match[1]!);
        if (!existsSync(doc)) {
          broken.push(`${file}: ${match[0]} (no such document)`);
          continue;
        }
        const sections = sectionsOf(readFileSync(doc, 'utf8'));
        for (const n of citedSections(match[2] ?? '')) if (!sections.has(n)) broken.push(`${file}: ${match[0]} (no §${n})`);
      }
      // The design used to live outside the repository; nothing may point there again.
      if (/\bDESIGN\.md\b|\.\.\/shared\//.test(text)) broken.push(`${file}: cites a document outside the repository`);
    }
    expect(broken).toEqual([]);
    expect(citations).toBeGreaterThan(40);
  });

  it('reads section numbers and ranges as written', () => {
    expect(citedSections(' §1–§4')).toEqual([1, 2, 3, 4]);
    expect(citedSections(' §2, §8')).toEqual([2, 8]);
    expect(citedSections('')).toEqual([]);
  });
});
