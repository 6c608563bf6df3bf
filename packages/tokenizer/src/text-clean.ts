/** OpenCLIP's caption cleaning (`basic_clean`, `whitespace_clean`, `canonicalize_text`, `get_clean_fn`) with Python string semantics. */
import { ftfyFixText } from './ftfy-fixes.js';
import { htmlUnescape } from './html-unescape.js';

/** The characters for which Python's `str.isspace()` is true (Unicode 14): what `str.split()` splits on. */
const PY_WHITESPACE = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const WHITESPACE_RUNS = new RegExp(`[${PY_WHITESPACE}]+`, 'gu');
const EDGE_WHITESPACE = new RegExp(`^[${PY_WHITESPACE}]+|[${PY_WHITESPACE}]+$`, 'gu');
/** ASCII punctuation (Python's `string.punctuation`), which `canonicalize_text` deletes. */
const ASCII_PUNCTUATION = /[!-/:-@[-`{-~]/g;

/** The clean modes OpenCLIP accepts (`clean=` of SimpleTokenizer and HFTokenizer). */
export type CleanMode = 'lower' | 'whitespace' | 'canonicalize';
export const CLEAN_MODES: readonly CleanMode[] = ['lower', 'whitespace', 'canonicalize'];

/** Whether a char code is Python whitespace (`str.isspace()`). */
function isPyWhitespace(c: number): boolean {
  if (c < 0x80) return c === 0x20 || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
  return (
    c === 0x85 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000
  );
}

/** Python `s.strip()` with no argument. */
export function pyStrip(s: string): string {
  if (s.length === 0 || (!isPyWhitespace(s.charCodeAt(0)) && !isPyWhitespace(s.charCodeAt(s.length - 1)))) return s;
  return s.replace(EDGE_WHITESPACE, '');
}

/** True when `s` is already whitespace-clean: no edge whitespace, only single ' ' separators. */
function isWhitespaceClean(s: string): boolean {
  let prevSpace = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x20) {
      if (prevSpace) return false;
      prevSpace = true;
    } else if (isPyWhitespace(c)) {
      return false;
    } else {
      prevSpace = false;
    }
  }
  return !prevSpace || s.length === 0;
}

/** Python `" ".join(s.split())`: collapse Unicode whitespace runs to one space and trim. */
export function whitespaceClean(s: string): string {
  if (isWhitespaceClean(s)) return s;
  return pyStrip(s).replace(WHITESPACE_RUNS, ' ');
}

/**
 * `basic_clean`: ftfy's `fix_text` (its character-level fixes, see ftfy-fixes.ts), then HTML
 * unescaped twice, then stripped.
 */
export function basicClean(s: string): string {
  return pyStrip(htmlUnescape(htmlUnescape(ftfyFixText(s))));
}

/** `canonicalize_text`: '_' → ' ', ASCII punctuation removed, lower-cased, whitespace collapsed. */
export function canonicalizeText(s: string): string {
  const noPunct = s.replace(/_/g, ' ').replace(ASCII_PUNCTUATION, '');
  return whitespaceClean(noPunct.toLowerCase());
}

/** The cleaning function OpenCLIP's `get_clean_fn(mode)` returns. */
export function getCleanFn(mode: CleanMode): (s: string) => string {
  switch (mode) {
    case 'lower':
      return (s) => whitespaceClean(basicClean(s)).toLowerCase();
    case 'whitespace':
      return (s) => whitespaceClean(basicClean(s));
    case 'canonicalize':
      return (s) => canonicalizeText(basicClean(s));
    default:
      throw new Error(`invalid clean mode ${JSON.stringify(mode)}: expected one of ${CLEAN_MODES.join(', ')}`);
  }
}

/** Turn any tokenizer input into a string deterministically: null/undefined → '', others via String(). */
export function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
