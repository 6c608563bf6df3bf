// Exact parity with the OpenCLIP 3.1.0 tokenizer fixtures (../shared/fixtures/reference/tokenizer).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSafetensors, toInt32 } from '@openclip/engine/safetensors';
import { referenceDir, referenceManifest } from '@openclip/test-config';
import { SimpleTokenizer } from '../src/simple-tokenizer.js';
import { decode, tokenize } from '../src/tokenize.js';

interface FixtureString {
  index: number;
  text: string;
  cleaned: string;
  pieces: string[];
  bpe: string[];
  bpe_ids: number[];
  n_bpe_ids: number;
  truncated_at_77: boolean;
  tokens_ctx77: number[];
  tokens_ctx16: number[];
}
interface Fixture {
  sot_token_id: number;
  eot_token_id: number;
  pad_token_id: number;
  vocab_size: number;
  context_lengths: number[];
  strings: FixtureString[];
  decode_cases: Array<{ desc: string; ids: number[]; decoded: string }>;
}

const dir = join(referenceDir(), 'tokenizer');
const fx = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as Fixture;
const tensors = loadSafetensors(join(dir, 'tokens.safetensors')).tensors;
const tok = new SimpleTokenizer();

const label = (s: FixtureString) => `#${s.index} ${JSON.stringify(s.text.slice(0, 40))}`;

test('fixture manifest lists the tokenizer case', () => {
  const c = referenceManifest().cases.find((x: { id: string }) => x.id === 'tokenizer');
  assert.ok(c, 'manifest has a "tokenizer" case');
  assert.equal(c.count, fx.strings.length);
  assert.equal(c.tolerance, 'exact');
});

test('tokenizer: vocabulary constants (size, SOT, EOT, pad)', () => {
  assert.equal(tok.vocabSize, fx.vocab_size);
  assert.equal(tok.sotTokenId, fx.sot_token_id);
  assert.equal(tok.eotTokenId, fx.eot_token_id);
  assert.equal(tok.padTokenId, fx.pad_token_id);
});

test('tokenizer: cleaned text of every string', () => {
  for (const s of fx.strings) assert.equal(tok.clean(s.text), s.cleaned, label(s));
});

test('tokenizer: regex pieces of every string', () => {
  for (const s of fx.strings) assert.deepEqual(tok.piecesOfCleaned(s.cleaned), s.pieces, label(s));
});

test('tokenizer: BPE strings of every piece', () => {
  for (const s of fx.strings) {
    assert.deepEqual(
      s.pieces.map((p) => tok.bpe(p)),
      s.bpe,
      label(s),
    );
  }
});

test('tokenizer: raw encode ids of every string', () => {
  for (const s of fx.strings) {
    const ids = tok.encode(s.text);
    assert.deepEqual(ids, s.bpe_ids, label(s));
    assert.equal(ids.length, s.n_bpe_ids, label(s));
    assert.equal(ids.length + 2 > 77, s.truncated_at_77, label(s));
  }
});

for (const ctx of fx.context_lengths) {
  test(`tokenizer: tokenize() rows at context ${ctx} equal tokens_ctx${ctx} (json and safetensors)`, () => {
    const key = `tokens_ctx${ctx}` as 'tokens_ctx77' | 'tokens_ctx16';
    const batch = tokenize(
      fx.strings.map((s) => s.text),
      ctx,
    );
    assert.deepEqual(batch.shape, [fx.strings.length, ctx]);
    const stored = toInt32(tensors.get(key)!, key);
    assert.deepEqual(tensors.get(key)!.shape, [fx.strings.length, ctx]);
    for (const s of fx.strings) {
      const row = Array.from(batch.data.subarray(s.index * ctx, (s.index + 1) * ctx));
      assert.deepEqual(row, s[key], `${label(s)} vs tokenizer.json`);
      assert.deepEqual(row, Array.from(stored.subarray(s.index * ctx, (s.index + 1) * ctx)), `${label(s)} vs tokens.safetensors`);
    }
  });
}

test('tokenizer: decode cases', () => {
  for (const c of fx.decode_cases) assert.equal(decode(c.ids), c.decoded, c.desc);
});
