import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { locateHfTokenizer } from '../src/hf-locate.js';
import { HFTokenizer } from '../src/hf-tokenizer.js';

const tmp = mkdtempSync(join(tmpdir(), 'openclip-hf-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
const template = (single: unknown[]) => ({ type: 'TemplateProcessing', single, pair: single, special_tokens: {} });

/** A BERT-style WordPiece tokenizer (CLIPA's bert-base-uncased family), lower-casing in its normalizer. */
const WORDPIECE = {
  added_tokens: [special(0, '[PAD]'), special(1, '[UNK]'), special(2, '[CLS]'), special(3, '[SEP]')],
  normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
  pre_tokenizer: { type: 'BertPreTokenizer' },
  post_processor: template([{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }]),
  decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
  model: {
    type: 'WordPiece',
    unk_token: '[UNK]',
    continuing_subword_prefix: '##',
    max_input_chars_per_word: 100,
    vocab: { '[PAD]': 0, '[UNK]': 1, '[CLS]': 2, '[SEP]': 3, a: 4, photo: 5, of: 6, cat: 7, dog: 8, '##s': 9, play: 10, '##ing': 11, the: 12, ',': 13, '!': 14 },
  },
};
const WORDPIECE_CONFIG = { pad_token: '[PAD]', sep_token: '[SEP]', cls_token: '[CLS]', unk_token: { content: '[UNK]', __type: 'AddedToken' } };

/** A T5/SigLIP-style sentencepiece Unigram tokenizer: Metaspace pieces, '</s>' appended. */
const UNIGRAM = {
  added_tokens: [special(0, '<pad>'), special(1, '</s>'), special(2, '<unk>')],
  normalizer: null,
  pre_tokenizer: { type: 'Metaspace', replacement: '▁', add_prefix_space: true, prepend_scheme: 'always', split: true },
  post_processor: template([{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }]),
  decoder: { type: 'Metaspace', replacement: '▁', add_prefix_space: true, prepend_scheme: 'always', split: true },
  model: {
    type: 'Unigram',
    unk_id: 2,
    vocab: [['<pad>', 0], ['</s>', 0], ['<unk>', 0], ['▁a', -2], ['▁photo', -3], ['▁of', -2.5], ['▁cat', -3], ['▁cats', -3.5], ['s', -6], ['▁', -4]],
  },
};
const UNIGRAM_CONFIG = { pad_token: '<pad>', eos_token: '</s>', unk_token: '<unk>' };

/** A RoBERTa-style byte-level BPE tokenizer: <s> ... </s>, pad id 1. */
const ROBERTA = {
  added_tokens: [special(0, '<s>'), special(1, '<pad>'), special(2, '</s>'), special(3, '<unk>')],
  normalizer: null,
  pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], trim_offsets: true, add_prefix_space: false },
  decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: {
    type: 'BPE',
    dropout: null,
    unk_token: '<unk>',
    continuing_subword_prefix: '',
    end_of_word_suffix: '',
    fuse_unk: false,
    vocab: { '<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3, a: 4, 'Ġ': 5, c: 6, t: 7, 'Ġc': 8, 'Ġca': 9, 'Ġcat': 10, A: 11 },
    merges: ['Ġ c', 'Ġc a', 'Ġca t'],
  },
};

function rows(t: HFTokenizer, texts: string[], ctx?: number): number[][] {
  const b = t.tokenize(texts, ctx);
  return Array.from({ length: b.shape[0] }, (_, i) => Array.from(b.data.subarray(i * b.shape[1], (i + 1) * b.shape[1])));
}

test('WordPiece (BERT): [CLS] + pieces + [SEP], [PAD]=0 padding, truncation keeps [SEP], unknown → [UNK]', () => {
  const t = new HFTokenizer(WORDPIECE, WORDPIECE_CONFIG, { contextLength: 12 });
  assert.equal(t.numSpecialTokens, 2);
  assert.deepEqual(rows(t, ['A photo of dogs playing!', 'the zebra']), [
    [2, 4, 5, 6, 8, 9, 10, 11, 14, 3, 0, 0],
    [2, 12, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0],
  ]);
  assert.deepEqual(rows(t, ['A photo of dogs playing!'], 8), [[2, 4, 5, 6, 8, 9, 10, 3]]);
  assert.deepEqual(t.encode('Dogs, a cat'), [8, 9, 13, 4, 7]);
});

test("clean modes and strip_sep_token as OpenCLIP's HFTokenizer applies them", () => {
  const canon = new HFTokenizer(WORDPIECE, WORDPIECE_CONFIG, { contextLength: 8, clean: 'canonicalize', stripSepToken: true });
  // canonicalize drops ',' and '!' before the tokenizer sees them; the SEP id (3) becomes 0.
  assert.deepEqual(rows(canon, ['A photo, of_dogs!']), [[2, 4, 5, 6, 8, 9, 0, 0]]);
  const html = new HFTokenizer(WORDPIECE, WORDPIECE_CONFIG, { contextLength: 6 });
  // basic_clean: ftfy unescapes entities until stable, html.unescape twice more; NBSP then collapses to a space.
  assert.deepEqual(rows(html, ['  a&amp;nbsp;cat  ', 'a&nbsp;cat', 'a&amp;amp;nbsp;cat']), [
    [2, 4, 7, 3, 0, 0],
    [2, 4, 7, 3, 0, 0],
    [2, 4, 7, 3, 0, 0],
  ]);
});

test('Unigram (SigLIP/T5 sentencepiece): pieces + </s>, Viterbi picks ▁cats, truncation keeps </s>', () => {
  const t = new HFTokenizer(UNIGRAM, UNIGRAM_CONFIG, { contextLength: 8, clean: 'canonicalize' });
  assert.equal(t.numSpecialTokens, 1);
  assert.deepEqual(rows(t, ['A photo of a Cat.', 'cats']), [
    [3, 4, 5, 3, 6, 1, 0, 0],
    [7, 1, 0, 0, 0, 0, 0, 0],
  ]);
  assert.deepEqual(rows(t, ['a photo of a cat'], 4), [[3, 4, 5, 1]]);
  assert.equal(t.decode([3, 4, 5, 3, 6]), 'a photo of a cat');
});

test('RoBERTa byte-level BPE: <s> + ids + </s>, pad id 1, left padding and left truncation from tokenizer_config', () => {
  const t = new HFTokenizer(ROBERTA, { pad_token: '<pad>', sep_token: '</s>' }, { contextLength: 6 });
  assert.deepEqual(rows(t, ['a cat', 'A']), [
    [0, 4, 10, 2, 1, 1],
    [0, 11, 2, 1, 1, 1],
  ]);
  const left = new HFTokenizer(ROBERTA, { pad_token: '<pad>', padding_side: 'left', truncation_side: 'left' }, { contextLength: 6 });
  assert.deepEqual(rows(left, ['a cat']), [[1, 1, 0, 4, 10, 2]]);
  assert.deepEqual(rows(left, ['a cat a cat'], 4), [[0, 4, 10, 2]]);
});

test('a tokenizer without a pad token fails at load with a clear message', () => {
  assert.throws(() => new HFTokenizer(ROBERTA, {}, {}), /no padding token/);
  assert.throws(() => new HFTokenizer(ROBERTA, { pad_token: '<pad>' }, { language: 'fr' }), /language option/);
  const t = new HFTokenizer(ROBERTA, { pad_token: '<pad>' }, {});
  assert.throws(() => t.tokenize('a', 1), /context length 1 is shorter than its 2 special tokens/);
});

function writeRepo(root: string, repo: string, rev: string, json: unknown, config: unknown) {
  const base = join(root, `models--${repo.replace('/', '--')}`);
  mkdirSync(join(base, 'refs'), { recursive: true });
  mkdirSync(join(base, 'snapshots', rev), { recursive: true });
  writeFileSync(join(base, 'refs', 'main'), rev + '\n');
  writeFileSync(join(base, 'snapshots', rev, 'tokenizer.json'), JSON.stringify(json));
  writeFileSync(join(base, 'snapshots', rev, 'tokenizer_config.json'), JSON.stringify(config));
}

test('HF cache layout: HF_HOME/hub and HF_HUB_CACHE, refs/main → snapshot, local folders, clear error when missing', () => {
  const home = join(tmp, 'hf-home');
  writeRepo(join(home, 'hub'), 'org/tiny-bert', 'abc123', WORDPIECE, WORDPIECE_CONFIG);
  const env = { HF_HOME: home };
  const dir = locateHfTokenizer('org/tiny-bert', { env });
  assert.equal(dir, join(home, 'hub', 'models--org--tiny-bert', 'snapshots', 'abc123'));
  assert.equal(locateHfTokenizer('hf-hub:org/tiny-bert', { env: { HF_HUB_CACHE: join(home, 'hub') } }), dir);
  assert.equal(locateHfTokenizer(dir), dir);
  assert.equal(locateHfTokenizer(join(dir, 'tokenizer.json')), dir);
  const t = HFTokenizer.load('org/tiny-bert', { cacheDir: join(home, 'hub'), contextLength: 5 });
  assert.deepEqual(rows(t, ['a cat']), [[2, 4, 7, 3, 0]]);
  assert.throws(() => locateHfTokenizer('org/absent', { env }), /"org\/absent" \(revision main\) not found in the hub cache: looked in .*models--org--absent/);
  assert.throws(() => locateHfTokenizer('not a repo id!'), /neither an existing path nor a hub repo id/);
});

test('a snapshot without a ref is found only by its commit id, as huggingface_hub finds it', () => {
  // huggingface_hub's hf_hub_download, offline: a full commit id names its snapshot; a branch or tag
  // is read from refs/. A lone snapshot is not guessed at for 'main' when refs/main is absent.
  const hub = join(tmp, 'hub-noref');
  const commit = 'e'.repeat(40);
  writeRepo(hub, 'org/noref', commit, WORDPIECE, WORDPIECE_CONFIG);
  rmSync(join(hub, 'models--org--noref', 'refs'), { recursive: true });
  const snap = join(hub, 'models--org--noref', 'snapshots', commit);
  assert.equal(locateHfTokenizer(`org/noref@${commit}`, { cacheDir: hub }), snap);
  assert.equal(locateHfTokenizer('org/noref', { cacheDir: hub, revision: commit }), snap);
  assert.throws(() => locateHfTokenizer('org/noref', { cacheDir: hub }), /\(revision main\) not found in the hub cache: looked in .*models--org--noref.refs.main/);
  // A revision that is not a commit id is never looked up as a snapshot folder name.
  writeRepo(hub, 'org/tagged', 'v1', WORDPIECE, WORDPIECE_CONFIG);
  rmSync(join(hub, 'models--org--tagged', 'refs'), { recursive: true });
  assert.throws(() => locateHfTokenizer('org/tagged@v1', { cacheDir: hub }), /\(revision v1\) not found .*refs.v1/);
});
