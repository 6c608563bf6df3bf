import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { Rng } from '@openclip/engine/rng';
import { type BpeVocab, bundledMergesText, pairKey } from '../src/bpe-vocab.js';
import { SimpleTokenizer, byteEncode, mergeDirect, mergeWithHeap } from '../src/simple-tokenizer.js';
import { ftfyFixText } from '../src/ftfy-fixes.js';
import { hasPythonRegex, pythonMap } from '../test-support/python-oracle.js';

const tok = new SimpleTokenizer();

/** A merge table over `alphabet` start symbols with merges in random rank order (not BPE-training order). */
function randomMergeTable(rng: Rng, alphabet: number, count: number): BpeVocab {
  const symbols = Array.from({ length: alphabet }, (_, i) => i);
  const left: number[] = [];
  const right: number[] = [];
  const result: number[] = [];
  const seen = new Set<number>();
  while (left.length < count) {
    const a = symbols[rng.randint(symbols.length)];
    const b = symbols[rng.randint(symbols.length)];
    if (seen.has(pairKey(a, b))) continue;
    seen.add(pairKey(a, b));
    left.push(a);
    right.push(b);
    result.push(symbols.length);
    symbols.push(symbols.length);
  }
  const order = rng.permutation(count);
  const ranks = new Map<number, number>();
  const L = new Int32Array(count);
  const R = new Int32Array(count);
  const J = new Int32Array(count);
  order.forEach((src, r) => {
    L[r] = left[src];
    R[r] = right[src];
    J[r] = result[src];
    ranks.set(pairKey(L[r], R[r]), r);
  });
  return { mergeLeft: L, mergeRight: R, mergeResult: J, ranks } as unknown as BpeVocab;
}

test('heap merge loop equals the direct OpenCLIP loop on adversarial random merge tables', () => {
  const rng = new Rng(7);
  for (let t = 0; t < 200; t++) {
    const v = randomMergeTable(rng, 3 + rng.randint(3), 10 + rng.randint(60));
    const word = Array.from({ length: 2 + rng.randint(80) }, () => rng.randint(3));
    assert.deepEqual(mergeWithHeap(word, v), mergeDirect(word, v), `table ${t}, word ${word.join(',')}`);
  }
});

test('heap merge loop equals the direct loop with the CLIP merges on long random words', () => {
  const rng = new Rng(11);
  const v = tok.vocab;
  const letters = 'etaoinshrdlucmfwypvbgkqjxz';
  for (let t = 0; t < 100; t++) {
    const n = 2 + rng.randint(120);
    const word: number[] = [];
    for (let i = 0; i < n; i++) word.push(v.byteIds[letters.charCodeAt(rng.randint(rng.random() < 0.5 ? 6 : 26))]);
    word[n - 1] = v.byteEndIds[letters.charCodeAt(rng.randint(26))];
    assert.deepEqual(mergeWithHeap(word, v), mergeDirect(word, v), `word ${t}`);
  }
});

test('special-token literals are matched in text; OpenAI-style <|endoftext|> is not special', () => {
  assert.deepEqual(tok.encode('<start_of_text>hello<end_of_text>'), [49406, 3306, 49407]);
  assert.ok(!tok.encode('<|endoftext|>').includes(49407));
});

test('truncation keeps EOT last; context 1 and 2 edge cases; short rows are zero padded', () => {
  const long = 'a '.repeat(100);
  const row = tok.tokenize(long, 10).data;
  assert.deepEqual(Array.from(row), [49406, 320, 320, 320, 320, 320, 320, 320, 320, 49407]);
  assert.deepEqual(Array.from(tok.tokenize('a cat', 1).data), [49407]);
  assert.deepEqual(Array.from(tok.tokenize('a cat', 2).data), [49406, 49407]);
  assert.deepEqual(Array.from(tok.tokenize('', 4).data), [49406, 49407, 0, 0]);
  assert.deepEqual(tok.tokenize(['x', 'y', 'z']).shape, [3, 77]);
  assert.deepEqual(tok.tokenize('one string').shape, [1, 77]);
});

test('context length: 0/undefined fall back to the default, invalid values throw clearly', () => {
  assert.deepEqual(tok.tokenize('x', 0).shape, [1, 77]);
  assert.throws(() => tok.tokenize('x', -3), /context length must be a positive integer, got -3/);
  assert.throws(() => tok.tokenize('x', 2.5), /context length must be a positive integer, got 2.5/);
  assert.throws(() => new SimpleTokenizer({ reductionMask: 'random' }), /reduction_mask "random" is not supported/);
});

test('decode rejects ids outside the vocabulary, naming the id and position', () => {
  assert.throws(() => tok.decode([320, 60000]), /token id 60000 at position 1 is not in the vocabulary/);
  assert.throws(() => tok.decode([1.5]), /token id 1.5 at position 0/);
});

test('robust input: non-strings, lone surrogates, NUL/control characters tokenize deterministically', () => {
  const inputs: unknown[] = [null, undefined, 42, true, { a: 1 }, ['nested'], 'lone \ud800 high', 'lone \udc00 low', 'nul\u0000char\u0001\u001b[31m', '\ufeffbom', '\u0345\u0301'];
  const a = tok.tokenize(inputs);
  const b = new SimpleTokenizer().tokenize(inputs);
  assert.deepEqual(a.data, b.data);
  assert.deepEqual(Array.from(a.data.subarray(0, 3)), [49406, 49407, 0], 'null → empty row');
  // A lone surrogate encodes as U+FFFD's UTF-8 bytes.
  assert.deepEqual(tok.encode('\ud800'), tok.encode('\ufffd'));
  for (let i = 0; i < inputs.length; i++) {
    const row = a.data.subarray(i * 77, (i + 1) * 77);
    assert.equal(row[0], 49406);
    assert.ok(row.includes(49407), `row ${i} has EOT`);
  }
});

/** CPU milliseconds of this process since `from` (what the work cost, whatever else the machine runs). */
function cpuMs(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
}

test('megabyte strings (one giant word, many words, many symbols) tokenize in bounded CPU time', () => {
  const rng = new Rng(3);
  const giantWord = Array.from({ length: 1 << 20 }, () => String.fromCharCode(97 + rng.randint(26))).join('');
  const manyWords = 'the quick brown fox '.repeat(60000);
  const symbols = '!?#'.repeat(400000);
  for (const [name, s] of [
    ['giant word', giantWord],
    ['many words', manyWords],
    ['symbols', symbols],
  ] as const) {
    const t0 = process.cpuUsage();
    const row = tok.tokenize(s).data;
    const ms = cpuMs(t0);
    assert.equal(row[76], 49407, name);
    assert.ok(ms < 20000, `${name} took ${ms.toFixed(0)} ms of CPU`);
  }
  // The full encode of a megabyte word also completes (heap merge loop), and agrees with tokenize().
  const t0 = process.cpuUsage();
  const ids = tok.encode(giantWord);
  assert.ok(cpuMs(t0) < 30000, 'encode of a 1 MiB word is bounded');
  assert.deepEqual(Array.from(tok.tokenize(giantWord).data.subarray(1, 76)), ids.slice(0, 75));
});

test('word cache: repeated encodes give identical ids and returned arrays are not shared', () => {
  const first = tok.encode('repeated words repeated');
  first.push(999);
  assert.deepEqual(tok.encode('repeated words repeated'), first.slice(0, -1));
});

test("clean 'whitespace' keeps case: upper-case special literals are ordinary text, as in OpenCLIP", () => {
  const t = new SimpleTokenizer({ clean: 'whitespace' });
  assert.deepEqual(t.encode('<start_of_text>'), [49406]);
  const upper = t.encode('<START_OF_TEXT>');
  assert.ok(!upper.includes(49406));
  assert.equal(t.decode(upper), '<START_OF_TEXT> ');
  assert.deepEqual(t.pieces("IT'S"), ['IT', "'S"]);
});

test('additional special tokens get the next ids and are matched literally', () => {
  const t = new SimpleTokenizer({ additionalSpecialTokens: ['<mask>', '[x.y]'] });
  assert.equal(t.vocabSize, 49410);
  assert.deepEqual(t.encode('a <mask> [x.y] [xzy]').slice(0, 3), [320, 49408, 49409]);
  assert.equal(t.decode([49408]), '<mask>');
});

test('regex pieces match Python `regex.findall` (IGNORECASE) on 3,000 random mixed-script strings', { skip: !hasPythonRegex && 'python3 regex module not installed' }, () => {
  const alphabet = [
    'a', 'Z', 'é', 'É', 'ß', 'ſ', 'K', 'İ', 'ı', 'Σ', 'ς', 'Ж', 'ж', 'ا', 'ب', '中', 'が', 'ㅎ', '한', 'क', 'ि', '्', 'த', 'ு', '\u0301', '\u0345', 'ǅ', 'ⅻ', 'Ⅻ',
    '1', '٣', '½', '²', '०', '🍕', '👍🏽', '\u200d', '\ufeff', '\u200b', '_', '-', '.', "'", "'S", "'T", "'RE", "'ll", "'D", '’', '"', '<', '>', '|',
    '<start_of_text>', '<END_OF_TEXT>', '<|endoftext|>', '\u0000', '\u0001', '\u007f', '\u0085', ' ', '  ',
  ];
  const rng = new Rng(5);
  const inputs: string[] = [];
  for (let i = 0; i < 3000; i++) {
    let s = '';
    const n = 1 + rng.randint(12);
    for (let j = 0; j < n; j++) s += alphabet[rng.randint(alphabet.length)];
    inputs.push(s);
  }
  const pattern = String.raw`<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`;
  const expected = pythonMap(`json.dumps(regex.findall(${JSON.stringify(pattern)}, s, regex.IGNORECASE))`, inputs);
  let same = 0;
  const diffs: string[] = [];
  for (let i = 0; i < inputs.length; i++) {
    const got = JSON.stringify(tok.piecesOfCleaned(inputs[i]));
    if (got === JSON.stringify(JSON.parse(expected[i]))) same++;
    else if (diffs.length < 5) diffs.push(`${JSON.stringify(inputs[i])}: js ${got} py ${expected[i]}`);
  }
  assert.equal(same, inputs.length, diffs.join('\n'));
});

test('encode ids match a Python SimpleTokenizer re-implementation (regex module; ftfy fixes applied to its input) on 2,000 random strings', { skip: !hasPythonRegex && 'python3 regex module not installed' }, () => {
  const words = ['photo', 'Cat', 'DOGS', "don't", "it's", 'café', 'naïve', 'Straße', '東京', 'が', '한국어', 'हिन्दी', 'مرحبا', '😀', '👍🏽', '🇯🇵', '42', '3.14', '½', '&amp;', '&lt;b&gt;', '&nbsp;', '#tag', '@user', 'C++', '--', '...', '_x_', 'e-mail', '\t', '\n', '\u00a0', 'ǅ', 'ﬁ', 'ÉCOLE', 'supercalifragilistic', 'zzxqj', '<start_of_text>', '<|endoftext|>'];
  const rng = new Rng(77);
  const inputs: string[] = [];
  for (let i = 0; i < 2000; i++) {
    const n = rng.randint(15);
    const parts: string[] = [];
    for (let j = 0; j < n; j++) parts.push(words[rng.randint(words.length)]);
    inputs.push(parts.join(rng.random() < 0.7 ? ' ' : ''));
  }
  const dir = mkdtempSync(join(tmpdir(), 'openclip-bpe-oracle-'));
  try {
    writeFileSync(join(dir, 'merges.txt'), bundledMergesText());
    const script = fileURLToPath(new URL('../../bench/tokenizer.py', import.meta.url));
    const r = spawnSync('/usr/bin/python3', [script, 'encode', join(dir, 'merges.txt')], { input: JSON.stringify(inputs.map(ftfyFixText)), encoding: 'utf8', maxBuffer: 1 << 26 });
    assert.equal(r.status, 0, r.stderr);
    const py = JSON.parse(r.stdout) as { engine: string; ids: number[][] };
    assert.equal(py.engine, 'regex');
    for (let i = 0; i < inputs.length; i++) assert.deepEqual(tok.encode(inputs[i]), py.ids[i], JSON.stringify(inputs[i]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the ASCII scanner finds exactly the regex pieces on 20,000 random ASCII strings', () => {
  const alphabet = ['a', 'B', 'z', '0', '7', ' ', '\t', '\n', '\x0b', '\x1c', '\x00', '\x7f', "'", "'s", "'S", "'re", "'Ll", "'d", "'x", '!', '<', '>', '_', '-', '.', '<start_of_text>', '<END_of_TEXT>', '<start_of_tex', '<end_of_text', '|'];
  const rng = new Rng(21);
  for (let i = 0; i < 20000; i++) {
    let s = '';
    const n = rng.randint(10);
    for (let j = 0; j < n; j++) s += alphabet[rng.randint(alphabet.length)];
    assert.deepEqual(tok.asciiPieces(s), tok.piecesOfCleaned(s), JSON.stringify(s));
  }
});

test('BPE symbols of a piece concatenate back to its byte-encoded form (plus </w>)', () => {
  for (const piece of ['photo', 'supercalifragilisticexpialidocious', '我爱北京天安门', '😀😃😄', 'ångström', '!!!', "'s"]) {
    const symbols = tok.bpe(piece).split(' ');
    assert.ok(symbols[symbols.length - 1].endsWith('</w>'), piece);
    assert.equal(symbols.join('').slice(0, -4), byteEncode(piece), piece);
  }
});
