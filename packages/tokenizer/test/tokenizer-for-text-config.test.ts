import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSafetensors, toInt32 } from '@openclip/engine/safetensors';
import { fixtureSkip, referenceDir, referenceManifest } from '@openclip/test-config';
import { HFTokenizer } from '../src/hf-tokenizer.js';
import { SimpleTokenizer } from '../src/simple-tokenizer.js';
import { createTokenizer, tokenizerForTextConfig, tokenizerSpecForTextConfig } from '../src/tokenizer-for-text-config.js';

const ref = referenceDir();

test("model configs: tokenizer from text_cfg reproduces every model case's inputs.text_tokens at its context length (77; CoCa 76)", () => {
  const cases = referenceManifest().cases.filter((c: { kind: string }) => c.kind === 'clip_model' || c.kind === 'coca');
  assert.ok(cases.length > 0, 'the manifest has model cases');
  for (const c of cases) {
    const cfg = JSON.parse(readFileSync(join(ref, c.config), 'utf8'));
    const tok = tokenizerForTextConfig(cfg.text_cfg, { modelName: c.id });
    assert.equal(tok.contextLength, c.context_length, c.id);
    const got = tok.tokenize(c.texts);
    const outputs = c.files.find((f: string) => f.endsWith('.outputs.safetensors'));
    assert.ok(outputs, `${c.id} lists its outputs file`);
    const stored = loadSafetensors(join(ref, outputs)).tensors.get('inputs.text_tokens')!;
    assert.deepEqual(got.shape, stored.shape, c.id);
    assert.deepEqual(got.data, toInt32(stored, `${c.id} inputs.text_tokens`), c.id);
  }
});

test('zero-shot case: tokens of every template x classname equal zeroshot text_tokens', { skip: fixtureSkip('zeroshot', ['zeroshot/zeroshot.json', 'zeroshot/zeroshot.safetensors']) }, () => {
  const zs = JSON.parse(readFileSync(join(ref, 'zeroshot', 'zeroshot.json'), 'utf8'));
  const texts: string[] = [];
  for (const c of zs.classnames) for (const t of zs.templates) texts.push(t.replace('{}', c));
  const stored = loadSafetensors(join(ref, 'zeroshot', 'zeroshot.safetensors')).tensors.get('text_tokens')!;
  assert.deepEqual(tokenizerForTextConfig({}).tokenize(texts).data, toInt32(stored, 'zeroshot text_tokens'));
});

test('spec selection follows get_tokenizer: hf_tokenizer_name → hf, tokenizer_kwargs merged, siglip without a name rejected', () => {
  assert.deepEqual(tokenizerSpecForTextConfig({ context_length: 64, hf_tokenizer_name: 'timm/ViT-B-16-SigLIP', tokenizer_kwargs: { clean: 'canonicalize' } }), {
    kind: 'hf',
    name: 'timm/ViT-B-16-SigLIP',
    contextLength: 64,
    clean: 'canonicalize',
    stripSepToken: undefined,
    cacheDir: undefined,
    revision: undefined,
  });
  assert.deepEqual(tokenizerSpecForTextConfig({ context_length: 32 }, { contextLength: 16, kwargs: { clean: 'whitespace' } }), {
    kind: 'clip',
    contextLength: 16,
    clean: 'whitespace',
    additionalSpecialTokens: undefined,
  });
  assert.throws(() => tokenizerSpecForTextConfig({}, { modelName: 'ViT-B-16-SigLIP' }), /SigLIP sentencepiece tokenizer .* not supported/);
  assert.throws(() => tokenizerSpecForTextConfig({ tokenizer_kwargs: { cleen: 'lower' } }), /tokenizer_kwargs\.cleen is not an option of SimpleTokenizer/);
  assert.throws(() => tokenizerSpecForTextConfig({ tokenizer_kwargs: { clean: 'upper' } }), /tokenizer_kwargs\.clean must be one of/);
  assert.throws(() => tokenizerSpecForTextConfig({ tokenizer_kwargs: { reduction_mask: 'simple' } }), /reduction_mask "simple"/);
  assert.throws(() => createTokenizer({ kind: 'nope' } as never), /unknown tokenizer kind "nope"/);
});

test('createTokenizer builds what the spec says (structured-clone safe specs)', () => {
  const spec = structuredClone(tokenizerSpecForTextConfig({ context_length: 16, tokenizer_kwargs: { clean: 'whitespace' } }));
  const tok = createTokenizer(spec);
  assert.ok(tok instanceof SimpleTokenizer);
  assert.equal(tok.contextLength, 16);
  assert.ok(tok.encode('Hello').length > 0);
  assert.notDeepEqual(tok.encode('Hello'), createTokenizer({ kind: 'clip' }).encode('Hello'));
  assert.throws(() => createTokenizer({ kind: 'hf', name: 'org/not-cached', cacheDir: '/nonexistent' }), /not found in the hub cache/);
  const dir = mkdtempSync(join(tmpdir(), 'openclip-spec-hf-'));
  try {
    const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    writeFileSync(
      join(dir, 'tokenizer.json'),
      JSON.stringify({
        added_tokens: [special(0, '<pad>'), special(1, '</s>'), special(2, '<unk>')],
        pre_tokenizer: { type: 'WhitespaceSplit' },
        model: { type: 'WordPiece', unk_token: '<unk>', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: { '<pad>': 0, '</s>': 1, '<unk>': 2, a: 3, cat: 4 } },
      }),
    );
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ pad_token: '<pad>' }));
    const hf = createTokenizer(tokenizerSpecForTextConfig({ context_length: 4, hf_tokenizer_name: dir, tokenizer_kwargs: { clean: 'lower' } }));
    assert.ok(hf instanceof HFTokenizer);
    // No post-processor: no special tokens; 'lower' cleaning lower-cases before the vocabulary lookup.
    assert.deepEqual(Array.from(hf.tokenize(['A CAT', 'dog']).data), [3, 4, 0, 0, 2, 0, 0, 0]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
