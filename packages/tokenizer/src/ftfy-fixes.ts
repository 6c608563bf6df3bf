/**
 * The character-level part of `ftfy.fix_text` that OpenCLIP's `basic_clean` runs first: HTML entity
 * unescaping (repeated, and only until a line with '<' is met), ANSI terminal escapes, C1 controls
 * read as Windows-1252, Latin ligatures, full-width forms, curly quotes, line breaks, lone
 * surrogates, invisible control characters and NFC — applied per line until nothing changes.
 * Mojibake repair (`fix_encoding`: re-decoding text that was decoded with the wrong codec) is not
 * reproduced.
 */
import { htmlUnescape } from './html-unescape.js';
import { characterEntities } from 'character-entities';

/**
 * `&name;` → text for every HTML5 name, plus the upper-cased form of each lower-case name whenever
 * html.unescape leaves that form alone (ftfy decodes `&EACUTE;` as 'É' and `&SZLIG;` as 'SS').
 */
const FTFY_ENTITIES: Map<string, string> = (() => {
  const map = new Map<string, string>();
  const names = Object.entries(characterEntities);
  for (const [name, text] of names) map.set(`&${name};`, text);
  for (const [name, text] of names) {
    const upper = `&${name.toUpperCase()};`;
    if (name === name.toLowerCase() && !map.has(upper) && htmlUnescape(upper) === upper) map.set(upper, text.toUpperCase());
  }
  return map;
})();

const ENTITY = /&#?[0-9A-Za-z]{1,24};/g;
const ANSI_ESCAPE = /\x1b\[((?:\d|;)*)([a-zA-Z])/g;
const C1 = /[\x80-\x9f]/g;
const C1_AS_WINDOWS_1252 =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';
const LIGATURES: Record<string, string> = {
  'Ĳ': 'IJ', 'ĳ': 'ij', 'ŉ': 'ʼn', 'Ǳ': 'DZ', 'ǲ': 'Dz', 'ǳ': 'dz', 'Ǆ': 'DŽ', 'ǅ': 'Dž', 'ǆ': 'dž',
  'Ǉ': 'LJ', 'ǈ': 'Lj', 'ǉ': 'lj', 'Ǌ': 'NJ', 'ǋ': 'Nj', 'ǌ': 'nj',
  'ﬀ': 'ff', 'ﬁ': 'fi', 'ﬂ': 'fl', 'ﬃ': 'ffi', 'ﬄ': 'ffl', 'ﬅ': 'ſt', 'ﬆ': 'st',
};
const LIGATURE_RE = new RegExp(`[${Object.keys(LIGATURES).join('')}]`, 'g');
const WIDE = /[\u3000\uff01-\uffef]/g;
const SINGLE_QUOTES = /[\u02bc\u2018-\u201b]/g;
const DOUBLE_QUOTES = /[\u201c-\u201f]/g;
const LINE_BREAKS = /\r\n|[\r\u2028\u2029\x85]/g;
const LONE_SURROGATE = /\p{Cs}/gu;
const CONTROL = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;

function unescapeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(ENTITY, (m) => {
    const named = FTFY_ENTITIES.get(m);
    if (named !== undefined) return named;
    if (m.startsWith('&#')) {
      const u = htmlUnescape(m);
      return u.includes(';') ? m : u;
    }
    return m;
  });
}

function wide(c: string): string {
  if (c === '\u3000') return ' ';
  return c.normalize('NFKC');
}

/** One pass of the fixes, in ftfy's order. */
function fixOnce(s: string, unescape: boolean): string {
  if (unescape) s = unescapeEntities(s);
  if (C1.test(s)) s = s.replace(C1, (c) => C1_AS_WINDOWS_1252[c.charCodeAt(0) - 0x80]);
  C1.lastIndex = 0;
  s = s.replace(LIGATURE_RE, (c) => LIGATURES[c]);
  s = s.replace(WIDE, wide);
  s = s.replace(SINGLE_QUOTES, "'").replace(DOUBLE_QUOTES, '"');
  s = s.replace(LINE_BREAKS, '\n');
  s = s.replace(LONE_SURROGATE, '\ufffd');
  s = s.replace(ANSI_ESCAPE, '');
  s = s.replace(CONTROL, '');
  return s.normalize('NFC');
}

/** Pure-ASCII text without '&' or ESC and no control characters is left unchanged: skip the work. */
function isPlain(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x7f || c === 0x26 || (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0c && c !== 0x0d)) return false;
  }
  return !s.includes('\r');
}

/** ftfy `fix_text` restricted to the fixes listed above. */
export function ftfyFixText(text: string): string {
  if (isPlain(text)) return text;
  let out = '';
  let unescape = true;
  for (let pos = 0; pos < text.length; ) {
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl + 1;
    let seg = text.slice(pos, end);
    // Once a line holds '<' (likely real HTML), entities are left alone from there on.
    if (unescape && seg.includes('<')) unescape = false;
    for (let i = 0; i < 1000; i++) {
      const next = fixOnce(seg, unescape);
      if (next === seg) break;
      seg = next;
    }
    out += seg;
    pos = end;
  }
  return out;
}
