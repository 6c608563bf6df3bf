/**
 * Shard-spec expansion as OpenCLIP does it through webdataset's `expand_urls` and Python's
 * `braceexpand`: `::` separates data sources, each source is brace-expanded
 * (`{0000..2175}` zero-padded ranges, `{a..e}` letters, `{0..10..2}` steps, `{a,b}` comma lists, nesting,
 * `\{` escapes). Text outside braces (including spaces and commas) stays literal.
 */

/** Index of the `}` closing the `{` at `open`, honouring nesting and backslash escapes; -1 when unbalanced. */
function findClose(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '{') depth++;
    else if (c === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/** Splits `inner` at commas that are not nested in braces or escaped; one part when there is none. */
function splitTopLevelCommas(inner: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '{') depth++;
    else if (c === '}') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(inner.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(inner.slice(start));
  return parts;
}

const INT_RANGE = /^(-?\d+)\.\.(-?\d+)(?:\.\.(-?\d+))?$/;
const CHAR_RANGE = /^([A-Za-z])\.\.([A-Za-z])(?:\.\.(-?\d+))?$/;

function padded(left: string, right: string): number {
  const zeroLed = (x: string) => x !== '0' && x !== '-0' && (x.startsWith('0') || x.startsWith('-0'));
  return zeroLed(left) || zeroLed(right) ? Math.max(left.length, right.length) : 0;
}

function formatInt(n: number, width: number): string {
  const digits = String(Math.abs(n));
  const sign = n < 0 ? '-' : '';
  return sign + digits.padStart(width - sign.length, '0');
}

/** The items of a `a..b[..step]` range, or null when `inner` is not one. */
function expandRange(inner: string): string[] | null {
  let m = INT_RANGE.exec(inner);
  if (m) {
    const start = Number(m[1]);
    const end = Number(m[2]);
    const step = Math.abs(Number(m[3] ?? '1')) || 1;
    const width = padded(m[1], m[2]);
    const out: string[] = [];
    if (start <= end) for (let i = start; i <= end; i += step) out.push(formatInt(i, width));
    else for (let i = start; i >= end; i -= step) out.push(formatInt(i, width));
    return out;
  }
  m = CHAR_RANGE.exec(inner);
  if (m) {
    const start = m[1].charCodeAt(0);
    const end = m[2].charCodeAt(0);
    const step = Math.abs(Number(m[3] ?? '1')) || 1;
    const out: string[] = [];
    if (start <= end) for (let i = start; i <= end; i += step) out.push(String.fromCharCode(i));
    else for (let i = start; i >= end; i -= step) out.push(String.fromCharCode(i));
    return out;
  }
  return null;
}

function expandRaw(s: string): string[] {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c !== '{') continue;
    const close = findClose(s, i);
    if (close < 0) return [s];
    const inner = s.slice(i + 1, close);
    let options = expandRange(inner);
    if (options === null) {
      const parts = splitTopLevelCommas(inner);
      // `{x}` without a comma or a range is literal text, as in bash and braceexpand.
      if (parts.length < 2) continue;
      options = parts.flatMap(expandRaw);
    }
    const prefix = s.slice(0, i);
    const suffixes = expandRaw(s.slice(close + 1));
    const out: string[] = [];
    for (const o of options) for (const suf of suffixes) out.push(prefix + o + suf);
    return out;
  }
  return [s];
}

/** Brace-expands one pattern; `\{`, `\}`, `\,` and `\\` escapes come out as the plain character. */
export function expandBraces(pattern: string): string[] {
  return expandRaw(pattern).map((x) => x.replace(/\\(.)/g, '$1'));
}

/** Splits a `--train-data` value into its `::`-separated data sources (unexpanded). */
export function splitSources(spec: string): string[] {
  const parts = spec.split('::');
  for (let i = 0; i < parts.length; i++) {
    if (parts[i].trim() === '') throw new Error(`data spec '${spec}': source ${i + 1} of ${parts.length} is empty (sources are separated by '::')`);
  }
  return parts;
}

export interface ExpandedSource {
  /** The source's pattern as written. */
  spec: string;
  /** Its shards after brace expansion. */
  urls: string[];
}

/** webdataset's `expand_urls`: every `::`-separated source brace-expanded, kept apart so weights can be applied per source. */
export function expandSources(spec: string): ExpandedSource[] {
  return splitSources(spec).map((s) => ({ spec: s, urls: expandBraces(s) }));
}

/** All shard URLs of a spec, sources concatenated in order. */
export function expandUrls(spec: string): string[] {
  return expandSources(spec).flatMap((s) => s.urls);
}
