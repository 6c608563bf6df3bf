import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getTokenizer, getTokenizerAsync } from '../../src/factory/factory.js';
import { HubTestServer } from '../../test-support/hub-test-server.js';
import { downloadHfTokenizer } from '../../src/hub/hf-tokenizer-download.js';
import { HubError } from '../../src/hub/hf-download.js';
import { repoFolderName } from '@openclip/common';

// First-use download of a SigLIP model's Hugging Face tokenizer (text_cfg.hf_tokenizer_name) from a
// loopback Hub into the cache shared with Python, then tokenization from the cache.

const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
/** A small sentencepiece-Unigram tokenizer in the shape of SigLIP's (Metaspace pieces, '</s>' appended, pad 0). */
const SIGLIP_LIKE = {
  added_tokens: [special(0, '<pad>'), special(1, '</s>'), special(2, '<unk>')],
  normalizer: null,
  pre_tokenizer: { type: 'Metaspace', replacement: '▁', add_prefix_space: true, prepend_scheme: 'always', split: true },
  post_processor: { type: 'TemplateProcessing', single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }], pair: [], special_tokens: {} },
  decoder: { type: 'Metaspace', replacement: '▁', add_prefix_space: true, prepend_scheme: 'always', split: true },
  model: { type: 'Unigram', unk_id: 2, vocab: [['<pad>', 0], ['</s>', 0], ['<unk>', 0], ['▁a', -2], ['▁red', -3], ['▁bird', -3], ['▁on', -2.5], ['▁branch', -4], ['▁', -5]] },
};
const CONFIG = { pad_token: '<pad>', eos_token: '</s>', unk_token: '<unk>' };

const server = new HubTestServer();
let endpoint = '';
const scratch: string[] = [];
const freshCache = () => {
  const d = mkdtempSync(join(tmpdir(), 'openclip-hftok-'));
  scratch.push(d);
  return d;
};

before(async () => {
  endpoint = await server.start();
  server.addRepo('timm/ViT-B-16-SigLIP', {
    'tokenizer.json': { content: Buffer.from(JSON.stringify(SIGLIP_LIKE)) },
    'tokenizer_config.json': { content: Buffer.from(JSON.stringify(CONFIG)) },
  });
  server.addRepo('org/no-tokenizer', { 'README.md': { content: Buffer.from('empty') } });
});

after(async () => {
  await server.stop();
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

test('getTokenizerAsync downloads text_cfg.hf_tokenizer_name on first use, then reads the cache (also offline)', async () => {
  const cacheDir = freshCache();
  assert.throws(() => getTokenizer('ViT-B-16-SigLIP', { cacheDir }), /not found in the hub cache/, 'nothing is cached before the first use');
  const tok = await getTokenizerAsync('ViT-B-16-SigLIP', { cacheDir, endpoint });
  assert.equal(tok.contextLength, 64, 'the config\'s context length');
  const rows = tok.tokenize(['A red bird, on a branch!']);
  // canonicalize (the config's tokenizer_kwargs): lower-case, punctuation removed; then pieces + '</s>', padded with 0.
  assert.deepEqual([...rows.data.subarray(0, 8)], [3, 4, 5, 6, 3, 7, 1, 0]);
  assert.equal(rows.data.length, 64);
  const repo = join(cacheDir, repoFolderName('timm/ViT-B-16-SigLIP'));
  const commit = readFileSync(join(repo, 'refs', 'main'), 'utf8').trim();
  assert.ok(existsSync(join(repo, 'snapshots', commit, 'tokenizer.json')));
  assert.ok(existsSync(join(repo, 'snapshots', commit, 'tokenizer_config.json')));
  assert.ok(server.requests.some((r) => r.path.endsWith('/special_tokens_map.json')), 'optional files are asked for');
  // Cached: the synchronous getTokenizer finds it, and an offline first-use call does not touch the network.
  assert.deepEqual([...getTokenizer('ViT-B-16-SigLIP', { cacheDir }).tokenize(['a bird']).data.subarray(0, 3)], [3, 5, 1]);
  const n = server.requests.length;
  const offline = await getTokenizerAsync('ViT-B-16-SigLIP', { cacheDir, endpoint, offline: true });
  assert.deepEqual([...offline.tokenize(['a bird']).data.subarray(0, 3)], [3, 5, 1]);
  await getTokenizerAsync('ViT-B-16-SigLIP', { cacheDir, endpoint });
  assert.equal(server.requests.length, n, 'once cached, the tokenizer is used without asking the Hub (online or offline)');
});

test('a repo without tokenizer.json fails naming the tokenizer and the file; local paths are not downloaded', async () => {
  const cacheDir = freshCache();
  await assert.rejects(downloadHfTokenizer('org/no-tokenizer', { cacheDir, endpoint }),
    (e: Error) => e instanceof HubError && /HF tokenizer 'org\/no-tokenizer': tokenizer\.json/.test(e.message));
  const n = server.requests.length;
  assert.equal(await downloadHfTokenizer(`local-dir:${cacheDir}`, { cacheDir, endpoint }), null);
  assert.equal(await downloadHfTokenizer(cacheDir, { cacheDir, endpoint }), null);
  assert.equal(server.requests.length, n);
});
