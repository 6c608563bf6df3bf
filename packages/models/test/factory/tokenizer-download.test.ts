import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HubTestServer } from '../../test-support/hub-test-server.js';
import { getTokenizer, getTokenizerAsync } from '../../src/factory/factory.js';

const server = new HubTestServer();
after(() => server.stop());

const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
/** A BERT-style WordPiece tokenizer.json (the kind of CLIPA's bert-base-uncased). */
const WORDPIECE = {
  added_tokens: [special(0, '[PAD]'), special(1, '[UNK]'), special(2, '[CLS]'), special(3, '[SEP]')],
  normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
  pre_tokenizer: { type: 'BertPreTokenizer' },
  post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }], pair: [], special_tokens: {} },
  decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
  model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: { '[PAD]': 0, '[UNK]': 1, '[CLS]': 2, '[SEP]': 3, a: 4, photo: 5, of: 6, cat: 7 } },
};

const config = {
  embed_dim: 16,
  vision_cfg: { image_size: 32, patch_size: 8, layers: 1, width: 32, head_width: 16 },
  text_cfg: { context_length: 8, vocab_size: 8, width: 32, heads: 2, layers: 1, hf_tokenizer_name: 'org/wordpiece-tok', tokenizer_kwargs: { strip_sep_token: true }, pool_type: 'last', no_causal_mask: true },
};

test('an HF tokenizer missing from the cache is downloaded on first use, then found without the network', async () => {
  const endpoint = await server.start();
  server.addRepo('org/wordpiece-tok', {
    'tokenizer.json': { content: Buffer.from(JSON.stringify(WORDPIECE)) },
    'tokenizer_config.json': { content: Buffer.from(JSON.stringify({ pad_token: '[PAD]', sep_token: '[SEP]', cls_token: '[CLS]', unk_token: '[UNK]' })) },
  });
  const cacheDir = mkdtempSync(join(tmpdir(), 'openclip-tok-'));
  const saved = { HF_ENDPOINT: process.env.HF_ENDPOINT, HF_HUB_OFFLINE: process.env.HF_HUB_OFFLINE };
  try {
    assert.throws(() => getTokenizer(config, { cacheDir }), /not found in the hub cache/);
    process.env.HF_ENDPOINT = endpoint;
    delete process.env.HF_HUB_OFFLINE;
    const tok = await getTokenizerAsync(config, { cacheDir });
    assert.deepEqual(Array.from(tok.tokenize(['a photo of a cat']).data), [2, 4, 5, 6, 4, 7, 0, 0]);
    // tokenizer.json and tokenizer_config.json were fetched; special_tokens_map.json is absent from the repo and skipped
    const fetched = server.requests.filter((q) => q.method === 'GET').map((q) => q.path.split('/').pop());
    assert.ok(fetched.includes('tokenizer.json') && fetched.includes('tokenizer_config.json'), fetched.join(', '));
    delete process.env.HF_ENDPOINT; // the cached tokenizer needs no Hub
    const before = server.requests.length;
    assert.deepEqual(Array.from(getTokenizer(config, { cacheDir }).tokenize(['a cat']).data), [2, 4, 7, 0, 0, 0, 0, 0]);
    await getTokenizerAsync(config, { cacheDir });
    assert.equal(server.requests.length, before, 'a cached tokenizer is not fetched again');
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});
