import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine } from '@openclip/engine';
import { createModel, registerTimmModel } from '@openclip/models';
import { captureRng, restoreRng } from '../../src/checkpoint/run-state.js';

test('checkpoints carry the PatchDropout stream of timm image towers too, and a bad saved state names its file', async () => {
  await initEngine({ backend: 'cpu' });
  registerTimmModel('test_run_state_vit', { family: 'vit', args: { img_size: 32, patch_size: 8, embed_dim: 32, depth: 1, num_heads: 2, global_pool: 'token' } });
  const text = { context_length: 8, vocab_size: 64, width: 16, heads: 2, layers: 1 };
  const model = createModel({ embed_dim: 16, custom_text: true, vision_cfg: { image_size: 32, timm_model_name: 'test_run_state_vit', timm_model_pretrained: false, timm_pool: '', timm_proj: 'linear', patch_dropout: 0.5 }, text_cfg: text }, { seed: 1 });
  try {
    const saved = captureRng(model);
    assert.ok(saved.visual, 'the timm tower\'s stream is saved');
    const first = model.randomStream!.normal();
    restoreRng(model, saved, 'epoch_1.safetensors');
    assert.equal(model.randomStream!.normal(), first, 'restoring replays the stream');
    assert.throws(() => restoreRng(model, { visual: { nonsense: true } as never }, 'epoch_1.safetensors'), /^Error: epoch_1\.safetensors: rng\.visual: /);
  } finally {
    model.dispose();
  }
});
