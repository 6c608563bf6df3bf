import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadSafetensors, toInt32 } from '@openclip/engine/safetensors';
import { referenceDir, referenceManifest } from '@openclip/test-config';

const bin = fileURLToPath(new URL('../../../bin/run.js', import.meta.url));
function openclip(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', input });
  return { ...r, stderr: r.stderr.replace(/\s*\n\s*›\s*/g, ' ') };
}

const ref = referenceDir();
const fx = JSON.parse(readFileSync(join(ref, 'tokenizer', 'tokenizer.json'), 'utf8')) as {
  strings: Array<{ text: string; tokens_ctx77: number[]; tokens_ctx16: number[] }>;
};
const tmp = mkdtempSync(join(tmpdir(), 'openclip-tokenize-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// Five fixture strings spread over the list, first and last included.
const n = fx.strings.length;
const picks = [...new Set([0, 1, 2, 3, 4].map((k) => Math.round((k * (n - 1)) / 4)))];

test('openclip tokenize --json prints one id array per caption, equal to the OpenCLIP fixture rows (ctx 77)', () => {
  const r = openclip(['tokenize', '--json', ...picks.map((i) => fx.strings[i].text)]);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, picks.length + 2, 'one line per row inside [ ]');
  assert.deepEqual(JSON.parse(r.stdout), picks.map((i) => fx.strings[i].tokens_ctx77));
});

test('--jsonl keeps tabs and newlines; --context-length 16 matches tokens_ctx16 for every fixture string', () => {
  const file = join(tmp, 'captions.jsonl');
  writeFileSync(file, fx.strings.map((s) => JSON.stringify(s.text)).join('\n') + '\n');
  const r = openclip(['tokenize', '--json', '--context-length', '16', '--jsonl', file]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), fx.strings.map((s) => s.tokens_ctx16));
  const mid = n >> 1;
  const viaStdin = openclip(['tokenize', '--json', '--jsonl', '-'], JSON.stringify(fx.strings[mid].text) + '\n');
  assert.deepEqual(JSON.parse(viaStdin.stdout), [fx.strings[mid].tokens_ctx77]);
});

// A model case whose context length is not the default 77 (CoCa's embed_cls: 76), else any model case.
interface ModelCaseJson { id: string; config?: string; files: string[]; texts: string[]; context_length: number }
const modelCases = (referenceManifest().cases as ModelCaseJson[]).filter((c) => c.id.startsWith('model/') && typeof c.config === 'string' && c.texts.length >= 3);
const ctxCase = modelCases.find((c) => c.context_length !== 77) ?? modelCases[0];

test('--model with a model-config path uses its context length (CoCa: 76) and matches the model case tokens', { skip: ctxCase ? false : `no model case with three texts in ${ref}` }, () => {
  const c = ctxCase!;
  const L = c.context_length;
  const texts = [c.texts[0]!, c.texts[2]!];
  const r = openclip(['tokenize', '--json', '--model', join(ref, c.config!), ...texts]);
  assert.equal(r.status, 0, r.stderr);
  const outputs = c.files.find((f) => f.endsWith('.outputs.safetensors'))!;
  const stored = toInt32(loadSafetensors(join(ref, outputs)).tensors.get('inputs.text_tokens')!);
  assert.deepEqual(JSON.parse(r.stdout), [Array.from(stored.subarray(0, L)), Array.from(stored.subarray(2 * L, 3 * L))]);
});

test('human output lists pieces beside ids and the padding count', () => {
  const r = openclip(['tokenize', 'a photo of a cat']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /tokenizer clip-bpe, context length 77/);
  assert.match(r.stdout, /^\s+1125\s+photo<\/w>$/m);
  assert.match(r.stdout, /^\s+49407\s+<end_of_text>$/m);
  assert.match(r.stdout, /\(\+70 × padding 0\)/);
});

test('--model with a built-in name goes through @openclip/models getModelConfig (or says only config paths work)', () => {
  const r = openclip(['tokenize', '--json', '--model', 'RN50', 'a photo of a cat']);
  if (r.status === 0) {
    assert.deepEqual(JSON.parse(r.stdout), [fx.strings[0].tokens_ctx77]);
  } else {
    assert.match(r.stderr, /built-in model names need @openclip\/models \(getModelConfig\), which is not available; pass the path of an OpenCLIP model-config JSON/);
  }
});

test('--model config with hf_tokenizer_name loads tokenizer.json from --cache-dir (HF hub layout)', () => {
  const hub = join(tmp, 'hub');
  const snap = join(hub, 'models--org--tiny-bert', 'snapshots', 'rev1');
  mkdirSync(snap, { recursive: true });
  mkdirSync(join(hub, 'models--org--tiny-bert', 'refs'), { recursive: true });
  writeFileSync(join(hub, 'models--org--tiny-bert', 'refs', 'main'), 'rev1');
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const single = [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }];
  writeFileSync(
    join(snap, 'tokenizer.json'),
    JSON.stringify({
      added_tokens: [special(0, '[PAD]'), special(1, '[UNK]'), special(2, '[CLS]'), special(3, '[SEP]')],
      normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
      pre_tokenizer: { type: 'BertPreTokenizer' },
      post_processor: { type: 'TemplateProcessing', single, pair: single, special_tokens: {} },
      decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
      model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: { '[PAD]': 0, '[UNK]': 1, '[CLS]': 2, '[SEP]': 3, a: 4, cat: 5 } },
    }),
  );
  writeFileSync(join(snap, 'tokenizer_config.json'), JSON.stringify({ pad_token: '[PAD]', sep_token: '[SEP]' }));
  const cfg = join(tmp, 'bert-model.json');
  writeFileSync(cfg, JSON.stringify({ embed_dim: 8, vision_cfg: {}, text_cfg: { context_length: 6, hf_tokenizer_name: 'org/tiny-bert', tokenizer_kwargs: { strip_sep_token: true } } }));
  const r = openclip(['tokenize', '--json', '--model', cfg, '--cache-dir', hub, 'A cat', 'a dog']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), [
    [2, 4, 5, 0, 0, 0],
    [2, 4, 1, 0, 0, 0],
  ]);
  const human = openclip(['tokenize', '--model', cfg, '--cache-dir', hub, 'a cat']);
  assert.match(human.stdout, /tokenizer hf:org\/tiny-bert/);
  assert.match(human.stdout, /^\s+5\s+cat$/m);
  const tooShort = openclip(['tokenize', '--model', cfg, '--cache-dir', hub, '--context-length', '1', 'a cat']);
  assert.equal(tooShort.status, 2);
  assert.match(tooShort.stderr, /context length 1 is shorter than its 2 special tokens/);
});

test('bad input fails with a clear message and exit code 2', () => {
  const none = openclip(['tokenize']);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /no text to tokenize: pass captions as arguments or --jsonl FILE/);
  const bad = join(tmp, 'bad.jsonl');
  writeFileSync(bad, '"ok"\n{"not": "a string"}\n');
  assert.match(openclip(['tokenize', '--jsonl', bad]).stderr, /bad\.jsonl:2: expected a JSON string, got object/);
  writeFileSync(bad, '"ok"\nnot json\n');
  assert.match(openclip(['tokenize', '--jsonl', bad]).stderr, /bad\.jsonl:2: not valid JSON/);
  assert.match(openclip(['tokenize', '--jsonl', join(tmp, 'missing.jsonl')]).stderr, /--jsonl .*missing\.jsonl: file not found/);
  const noText = join(tmp, 'no-text.json');
  writeFileSync(noText, JSON.stringify({ embed_dim: 8 }));
  assert.match(openclip(['tokenize', '--model', noText, 'x']).stderr, /no-text\.json: no text_cfg/);
  assert.notEqual(openclip(['tokenize', '--context-length', '0', 'x']).status, 0);
});
