/**
 * Finds the module specifiers a TypeScript file imports: static imports and re-exports (type-only
 * ones too, since they still tie the files together) and dynamic `import('…')` with a literal.
 * Comments are skipped so that an example in a doc comment is not taken for an import.
 */
export function importSpecifiers(source: string): string[] {
  const strings: string[] = [];
  const code = withoutCommentsAndStrings(source, strings);
  const found: string[] = [];
  const staticImport = /(?:^|[;\s}])(?:import|export)\s+(?:type\s+)?(?:[\w$*{}\s,]+?\s+from\s+)?'(\d+)'/g;
  const dynamicImport = /\bimport\s*\(\s*'(\d+)'\s*\)/g;
  for (const match of code.matchAll(staticImport)) found.push(strings[Number(match[1])]!);
  for (const match of code.matchAll(dynamicImport)) found.push(strings[Number(match[1])]!);
  return found;
}

/**
 * Replaces comments with spaces and each quoted string with `'N'`, N its index in `strings`, so
 * that neither `//` inside a URL nor an import written inside a string is taken for code. Template
 * literals become empty (no import specifier is ever one), read as opaque text up to their closing
 * backtick.
 */
function withoutCommentsAndStrings(source: string, strings: string[]): string {
  let out = '';
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    const next = source[i + 1];
    if (c === '/' && next === '/') {
      while (i < source.length && source[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2);
      i = end === -1 ? source.length : end + 2;
      out += ' ';
      continue;
    }
    if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < source.length && source[j] !== c) {
        if (source[j] === '\\') j++;
        if (c !== '`' && source[j] === '\n') break;
        j++;
      }
      if (c === '`') out += '``';
      else {
        out += `'${strings.length}'`;
        strings.push(source.slice(i + 1, j));
      }
      i = j + 1;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}
