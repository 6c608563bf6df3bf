import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine, tf } from '@openclip/engine';
import { parsePreprocessConfig } from '@openclip/data';
import { createModel } from '../../src/model/create.js';
import { createModelAndTransforms } from '../../src/factory/factory.js';
import { HubTestServer } from '../../test-support/hub-test-server.js';
import { writeHubFolder, pushFolderToHub } from '../../src/hub/push-to-hub.js';

const CONFIG = {
  embed_dim: 16,
  vision_cfg: { image_size: 16, layers: 1, width: 32, head_width: 16, patch_size: 8 },
  text_cfg: { context_length: 8, vocab_size: 64, width: 32, heads: 2, layers: 1 },
};

test('a pushed folder arrives as one commit and loads back through hf-hub: with identical weights', async () => {
  await initEngine({ backend: 'cpu' });
  const server = new HubTestServer();
  const url = await server.start();
  server.requireToken = 'hf_test_token';
  const saved = { endpoint: process.env.HF_ENDPOINT, cache: process.env.HF_HUB_CACHE };
  const tensorsBefore = tf.memory().numTensors;
  try {
    const model = createModel(CONFIG, { seed: 3 });
    const dir = mkdtempSync(join(tmpdir(), 'push-'));
    const files = writeHubFolder(model, dir, { modelName: 'tiny', preprocessCfg: parsePreprocessConfig({ image_size: 16 }), repoId: 'me/tiny' });
    assert.deepEqual(readdirSync(dir).sort(), ['README.md', 'open_clip_config.json', 'open_clip_model.safetensors']);
    const cfg = JSON.parse(readFileSync(join(dir, 'open_clip_config.json'), 'utf8'));
    assert.equal(cfg.model_cfg.embed_dim, 16);
    assert.deepEqual(cfg.preprocess_cfg.mean, [0.48145466, 0.4578275, 0.40821073]);
    assert.match(readFileSync(join(dir, 'README.md'), 'utf8'), /- open_clip[\s\S]*library_name: open_clip[\s\S]*create_model_and_transforms\('hf-hub:me\/tiny'\)/);

    await assert.rejects(pushFolderToHub(files, { repoId: 'me/tiny', token: 'wrong', endpoint: url }), /Unauthorized|401|could not create/);
    const r = await pushFolderToHub(files, { repoId: 'me/tiny', token: 'hf_test_token', endpoint: url, private: true, commitMessage: 'first weights' });
    assert.ok(r.commit && /^[0-9a-f]{40}$/.test(r.commit));
    const c = server.commits.at(-1)!;
    assert.equal(c.summary, 'first weights');
    assert.equal(c.authorization, 'Bearer hf_test_token');
    assert.deepEqual(c.lfs, ['open_clip_model.safetensors']);
    for (const f of files) assert.deepEqual(Buffer.from(c.files.get(f.split('/').pop()!)!), readFileSync(f));
    assert.ok(server.created.some((x) => x.organization === 'me' && x.name === 'tiny' && x.private));
    // a second push to the existing repo adds a commit
    await pushFolderToHub(files, { repoId: 'me/tiny', token: 'hf_test_token', endpoint: url });
    assert.equal(server.commits.length, 2);

    process.env.HF_ENDPOINT = url;
    process.env.HF_HUB_CACHE = mkdtempSync(join(tmpdir(), 'hub-cache-'));
    const back = await createModelAndTransforms('hf-hub:me/tiny');
    for (const [k, v] of model.stateDict()) assert.deepEqual(back.model.stateDict().get(k)!.dataSync(), v.dataSync(), k);
    assert.equal(back.preprocessCfg.image_size, 16);
    back.model.dispose();
    model.dispose();
    assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensor leaked by write, push and reload');
  } finally {
    process.env.HF_ENDPOINT = saved.endpoint;
    if (saved.endpoint === undefined) delete process.env.HF_ENDPOINT;
    process.env.HF_HUB_CACHE = saved.cache;
    if (saved.cache === undefined) delete process.env.HF_HUB_CACHE;
    await server.stop();
  }
});

test('push-to-hub without a token says how to get one', async () => {
  const saved = process.env.HF_TOKEN;
  delete process.env.HF_TOKEN;
  delete process.env.HUGGING_FACE_HUB_TOKEN;
  try {
    await assert.rejects(pushFolderToHub([], { repoId: 'me/x', endpoint: 'http://127.0.0.1:9' }), /set HF_TOKEN/);
    await assert.rejects(pushFolderToHub([], { repoId: 'bad id', token: 't', endpoint: 'http://127.0.0.1:9' }), /not of the form org\/name/);
  } finally {
    if (saved !== undefined) process.env.HF_TOKEN = saved;
  }
});

test('a model with a Hugging Face tokenizer carries its tokenizer files; a missing tokenizer is a clear error', async () => {
  await initEngine({ backend: 'cpu' });
  const tokDir = mkdtempSync(join(tmpdir(), 'hf-tok-'));
  writeFileSync(join(tokDir, 'tokenizer.json'), JSON.stringify({ version: '1.0', model: { type: 'Unigram', vocab: [['<pad>', 0]] } }));
  writeFileSync(join(tokDir, 'tokenizer_config.json'), JSON.stringify({ pad_token: '<pad>' }));
  writeFileSync(join(tokDir, 'unrelated.bin'), 'not a tokenizer file');
  const model = createModel({ ...CONFIG, text_cfg: { ...CONFIG.text_cfg, hf_tokenizer_name: tokDir } }, { seed: 3 });
  try {
    const dir = mkdtempSync(join(tmpdir(), 'push-tok-'));
    const files = writeHubFolder(model, dir, { modelName: 'tiny-hf-tok', preprocessCfg: parsePreprocessConfig({ image_size: 16 }) });
    assert.deepEqual(readdirSync(dir).sort(), ['README.md', 'open_clip_config.json', 'open_clip_model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
      assert.ok(files.includes(join(dir, f)), `${f} is in the list of files to upload`);
      assert.deepEqual(readFileSync(join(dir, f)), readFileSync(join(tokDir, f)));
    }
    const missing = createModel({ ...CONFIG, text_cfg: { ...CONFIG.text_cfg, hf_tokenizer_name: 'nobody/no-such-tokenizer' } }, { seed: 3 });
    try {
      const cache = mkdtempSync(join(tmpdir(), 'empty-cache-'));
      assert.throws(
        () => writeHubFolder(missing, mkdtempSync(join(tmpdir(), 'push-miss-')), { modelName: 'x', preprocessCfg: parsePreprocessConfig({ image_size: 16 }), cacheDir: cache }),
        /uses the Hugging Face tokenizer "nobody\/no-such-tokenizer", which the Hub folder must carry: HF tokenizer "nobody\/no-such-tokenizer" .*not found in the hub cache/,
      );
    } finally {
      missing.dispose();
    }
  } finally {
    model.dispose();
  }
});
