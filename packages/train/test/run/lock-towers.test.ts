import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine } from '@openclip/engine';
import { createModel } from '@openclip/models';
import { lockTowers } from '../../src/run/build-model.js';

const text_cfg = { context_length: 16, vocab_size: 100, layers: 2, heads: 2, width: 32 };
const vision_cfg = { image_size: 32, patch_size: 16, layers: 2, width: 32, head_width: 16 };
const off = { lockImage: false, lockImageUnlockedGroups: 0, lockImageFreezeBnStats: false, lockText: false, lockTextUnlockedLayers: 0, lockTextFreezeLayerNorm: true };

test('--lock-image / --lock-text on a CoCa model stop the run naming the flag and the model, as OpenCLIP 3.1.0 whose CoCa cannot lock', async () => {
  await initEngine({});
  const coca = createModel({
    embed_dim: 16,
    custom_text: true,
    vision_cfg: { ...vision_cfg, output_tokens: true, attentional_pool: true, attn_pooler_queries: 4, attn_pooler_heads: 2 },
    text_cfg: { ...text_cfg, embed_cls: true, output_tokens: true },
    multimodal_cfg: { width: 32, context_length: 16, vocab_size: 100, mlp_ratio: 4, layers: 1, heads: 2 },
  });
  try {
    assert.equal(coca.modelClass, 'CoCa');
    assert.throws(() => lockTowers(coca, { ...off, model: 'tiny-coca', lockImage: true }), /^Error: --lock-image with --model tiny-coca: CoCa cannot lock its image tower/);
    assert.throws(() => lockTowers(coca, { ...off, model: 'tiny-coca', lockText: true }), /^Error: --lock-text with --model tiny-coca: CoCa cannot lock its text tower/);
    lockTowers(coca, { ...off, model: 'tiny-coca' }); // no lock flag: nothing asked of the model
    assert.equal(coca.frozen.size, 0);
  } finally {
    coca.dispose();
  }
});

test('--lock-image / --lock-text reach CLIP and CustomTextCLIP through the model interface', async () => {
  await initEngine({});
  for (const custom_text of [false, true]) {
    const model = createModel({ embed_dim: 16, custom_text, vision_cfg, text_cfg });
    try {
      lockTowers(model, { ...off, model: 'tiny', lockImage: true, lockText: true, lockTextUnlockedLayers: 1 });
      const frozen = [...model.frozen];
      const textProj = custom_text ? 'text.text_projection' : 'text_projection';
      assert.ok(frozen.includes('visual.proj'), `${model.modelClass}: image tower frozen`);
      assert.ok(!frozen.includes(textProj), `${model.modelClass}: the last text group stays trainable`);
      assert.ok(frozen.includes(custom_text ? 'text.token_embedding.weight' : 'token_embedding.weight'), `${model.modelClass}: text embeddings frozen`);
      assert.ok(!frozen.includes('logit_scale'));
      // OpenCLIP 3.1.0 asserts freeze_layer_norm: --lock-text without --lock-text-freeze-layer-norm stops, naming the flag
      assert.throws(() => lockTowers(model, { ...off, model: 'tiny', lockText: true, lockTextFreezeLayerNorm: false }), /^Error: --lock-text with --model tiny: lockTextTower: unfreezing LayerNorm is not supported/);
    } finally {
      model.dispose();
    }
  }
});
