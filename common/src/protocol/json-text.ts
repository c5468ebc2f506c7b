import { type Rejection, rejected } from './rejection.ts';

/**
 * Structural rules for JSON text that JSON.parse does not enforce, checked before parsing:
 *
 * - **Nesting depth.** No protocol payload nests deeper than 5 levels, and code downstream
 *   (JSON.stringify of an entry for the record, zod, the drivers) recurses: an entry nested a few
 *   thousand deep overflows the stack there. So anything deeper than {@link MAX_JSON_DEPTH} is
 *   refused here, as data, before it can throw anywhere else.
 * - **Duplicate keys.** `{"seq":1,"seq":2}` is valid JSON, and JSON.parse keeps the last value
 *   while other parsers keep the first: the device, a broker plugin and the receiver could each
 *   read another reading. An object that names a key twice is refused instead of guessed at.
 *
 * One pass over the text without building values; whatever else is wrong with the text is left
 * to JSON.parse, which runs next and has the last word on syntax.
 */

/** Deepest nesting of objects and arrays a payload may have (a v1 batch needs 3). */
export const MAX_JSON_DEPTH = 32;

const QUOTE = 34;
const BACKSLASH = 92;
const OPEN_OBJECT = 123;
const CLOSE_OBJECT = 125;
const OPEN_ARRAY = 91;
const CLOSE_ARRAY = 93;
const COMMA = 44;

/** What the scanner knows about one open object or array. */
interface Frame {
  /** Keys seen so far; null for an array. */
  keys: Set<string> | null;
  /** In an object: the next string is a key (after `{` or `,`). */
  expectKey: boolean;
}

/** Undefined when the text breaks neither rule (it may still be invalid JSON). */
export function checkJsonStructure(text: string, maxDepth = MAX_JSON_DEPTH): { ok: false; rejection: Rejection } | undefined {
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      const end = closingQuote(text, i);
      if (end === -1) return undefined;
      const frame = stack.at(-1);
      if (frame?.keys && frame.expectKey) {
        const key = keyText(text, i, end);
        if (key === undefined) return undefined;
        if (frame.keys.has(key)) return rejected('wrong_shape', `an object names the key ${JSON.stringify(key.slice(0, 64))} twice; which value counts would depend on the parser`);
        frame.keys.add(key);
        frame.expectKey = false;
      }
      i = end;
    } else if (code === OPEN_OBJECT || code === OPEN_ARRAY) {
      if (stack.length >= maxDepth) return rejected('wrong_shape', `the payload nests objects and arrays deeper than ${maxDepth} levels`);
      stack.push({ keys: code === OPEN_OBJECT ? new Set() : null, expectKey: code === OPEN_OBJECT });
    } else if (code === CLOSE_OBJECT || code === CLOSE_ARRAY) {
      if (stack.pop() === undefined) return undefined;
    } else if (code === COMMA) {
      const frame = stack.at(-1);
      if (frame?.keys) frame.expectKey = true;
    }
  }
  return undefined;
}

/** Index of the quote that ends the string opening at `start`, or -1. */
function closingQuote(text: string, start: number): number {
  let at = start;
  for (;;) {
    at = text.indexOf('"', at + 1);
    if (at === -1) return -1;
    // Escaped when preceded by an odd number of backslashes.
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
}

/** The key as JSON.parse will see it ("\u0061" and "a" are the same key); undefined if malformed. */
function keyText(text: string, start: number, end: number): string | undefined {
  const raw = text.slice(start + 1, end);
  if (!raw.includes('\\')) return raw;
  try {
    return JSON.parse(text.slice(start, end + 1)) as string;
  } catch {
    return undefined;
  }
}
