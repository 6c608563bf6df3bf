/** Python's `html.unescape` (HTML5 named and numeric character references), which OpenCLIP's `basic_clean` applies twice. */
import { characterEntities } from 'character-entities';
import { characterEntitiesLegacy } from 'character-entities-legacy';

/** Named references valid with a trailing ';' (all 2,125 HTML5 names) → replacement text. */
const NAMED = new Map<string, string>(Object.entries(characterEntities));
/** The 106 legacy names that also match without ';' (and as prefixes of longer names). */
const LEGACY = new Set<string>(characterEntitiesLegacy);

// Same shape as CPython's `_charref`: decimal, hex, or a name of 1–32 characters that are not
// tab, LF, FF, space, '<', '&', '#' or ';' — each optionally closed by ';'. The `u` flag makes the
// {1,32} count code points, as Python does.
const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;

/** Windows-1252 meanings of bytes 0x80–0x9F (undefined positions keep their C1 code point). */
const C1_AS_WINDOWS_1252 =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

/** Code points HTML maps specially when written numerically: NUL, CR and the C1 range (as Windows-1252). */
function invalidCharref(num: number): string | undefined {
  if (num === 0x00) return '\ufffd';
  if (num === 0x0d) return '\r';
  if (num >= 0x80 && num <= 0x9f) return C1_AS_WINDOWS_1252[num - 0x80];
  return undefined;
}

/** Code points that numeric references silently drop (CPython's `_invalid_codepoints`). */
function isDroppedCodepoint(num: number): boolean {
  return (
    (num >= 0x1 && num <= 0x8) ||
    num === 0xb ||
    (num >= 0xe && num <= 0x1f) ||
    (num >= 0x7f && num <= 0x9f) ||
    (num >= 0xfdd0 && num <= 0xfdef) ||
    (num & 0xfffe) === 0xfffe
  );
}

function replaceNumeric(body: string): string {
  const digits = body.endsWith(';') ? body.slice(0, -1) : body;
  const hex = digits[1] === 'x' || digits[1] === 'X';
  // Very long digit strings overflow to Infinity or lose precision; both are > 0x10FFFF as in Python.
  const num = hex ? parseInt(digits.slice(2), 16) : Number(digits.slice(1));
  const special = invalidCharref(num);
  if (special !== undefined) return special;
  if ((num >= 0xd800 && num <= 0xdfff) || !(num <= 0x10ffff)) return '\ufffd';
  if (isDroppedCodepoint(num)) return '';
  return String.fromCodePoint(num);
}

function replaceNamed(body: string): string {
  if (body.endsWith(';')) {
    const full = NAMED.get(body.slice(0, -1));
    if (full !== undefined) return full;
  } else if (LEGACY.has(body)) {
    return NAMED.get(body)!;
  }
  // Longest legacy name that prefixes the reference (at least 2 characters), as the standard says.
  const chars = Array.from(body);
  for (let x = chars.length - 1; x > 1; x--) {
    const prefix = chars.slice(0, x).join('');
    if (LEGACY.has(prefix)) return NAMED.get(prefix)! + chars.slice(x).join('');
  }
  return '&' + body;
}

/** Replace every HTML character reference in `s` exactly as Python's `html.unescape` does. */
export function htmlUnescape(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(CHARREF, (_m, body: string) => (body[0] === '#' ? replaceNumeric(body) : replaceNamed(body)));
}
