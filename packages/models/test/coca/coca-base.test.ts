import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '@openclip/engine';
import { getModelConfig } from '../../src/config/registry.js';
import { createModel } from '../../src/model/create.js';
import '../../src/coca/coca.js'; // registers the CoCa builder
import type { CoCa } from '../../src/coca/coca.js';

/** coca_base's structure at a size that runs in a test: no attentional pool, CLS-token pooling, output tokens. */
const SMALL_COCA_BASE = {
  embed_dim: 32,
  custom_text: true,
  vision_cfg: { image_size: 36, patch_size: 18, layers: 1, width: 64, output_tokens: true },
  text_cfg: { context_length: 76, vocab_size: 49408, layers: 1, heads: 2, width: 64, embed_cls: true, output_tokens: true },
  multimodal_cfg: { width: 64, context_length: 76, vocab_size: 49408, mlp_ratio: 4, layers: 1, heads: 2, n_queries: 256, attn_pooler_heads: 8 },
};

test('coca_base: a CoCa without an attentional pool takes its captioning tokens from the patch tokens', async () => {
  await initEngine({});
  const base = getModelConfig('coca_base');
  assert.equal(base.vision_cfg.attentional_pool, false);
  const model = createModel(SMALL_COCA_BASE) as unknown as CoCa;
  try {
    assert.ok(![...model.params.keys()].some((k) => k.includes('attn_pool')));
    const images = tf.randomNormal([2, 3, 36, 36], 0, 1, 'float32', 1);
    const { latent, embs } = model.encodeImageWithTokens(images);
    assert.deepEqual(latent.shape, [2, 32]);
    assert.deepEqual(embs.shape, [2, 4, 64]); // (36/18)^2 patch tokens, CLS removed, vision width
    const captions = await model.generate(images, { generationType: 'top_k', seqLen: 6, minSeqLen: 2, rng: 3 });
    assert.equal(captions.length, 2);
    for (const c of captions) {
      assert.equal(c[0], 49406);
      assert.ok(c.length <= 6 && c.length >= 2);
    }
    tf.dispose([images, latent, embs]);
  } finally {
    model.dispose();
  }
});

test('CoCa refuses lockImageTower / lockTextTower naming itself, as OpenCLIP 3.1.0 whose CoCa has neither', async () => {
  await initEngine({});
  const model = createModel(SMALL_COCA_BASE);
  try {
    assert.equal(model.modelClass, 'CoCa');
    assert.throws(() => model.lockImageTower(0, false), /^Error: CoCa cannot lock its image tower: .*no lock_image_tower/);
    assert.throws(() => model.lockTextTower(0, true), /^Error: CoCa cannot lock its text tower: .*no lock_text_tower/);
    assert.equal(model.frozen.size, 0, 'a refused lock freezes nothing');
  } finally {
    model.dispose();
  }
});
