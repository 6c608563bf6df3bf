// `randomStream` is the source PatchDropout draws from in train mode, for every image tower that
// has one (the native ViT, timm trunks, CoCa's ViT); putting its state back replays the same masks,
// which is what checkpoints and the data-parallel step's replayed forward rely on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '@openclip/engine';
import { createModel } from '../../src/model/create.js';
import { registerTimmModel } from '../../src/towers/timm/timm-registry.js';
import '../../src/coca/coca.js'; // registers the CoCa builder

const text = { context_length: 8, vocab_size: 64, width: 16, heads: 2, layers: 1 };

function replays(config: Record<string, unknown>, what: string): void {
  const model = createModel(config, { seed: 3 });
  const images = tf.randomUniform([2, 3, 32, 32], -1, 1, 'float32', 5);
  try {
    model.train();
    const rng = model.randomStream;
    assert.ok(rng, `${what}: has a random stream`);
    const saved = rng.getState();
    const first = model.encodeImage(images);
    const again = model.encodeImage(images); // the stream moved on: other patches dropped
    rng.setState(saved);
    const replay = model.encodeImage(images);
    assert.deepEqual(Array.from(replay.dataSync()), Array.from(first.dataSync()), `${what}: the restored state replays the forward`);
    assert.notDeepEqual(Array.from(again.dataSync()), Array.from(first.dataSync()), `${what}: the masks come from this stream`);
    tf.dispose([first, again, replay]);
  } finally {
    images.dispose();
    model.dispose();
  }
}

test('randomStream drives PatchDropout of native ViT, timm and CoCa image towers; ModifiedResNet has none', async () => {
  await initEngine({ backend: 'cpu' });
  registerTimmModel('test_rng_vit', { family: 'vit', args: { img_size: 32, patch_size: 8, embed_dim: 32, depth: 1, num_heads: 2, global_pool: 'token' } });
  replays({ embed_dim: 16, vision_cfg: { image_size: 32, layers: 1, width: 32, head_width: 16, patch_size: 8, patch_dropout: 0.5 }, text_cfg: text }, 'ViT');
  replays({ embed_dim: 16, custom_text: true, vision_cfg: { image_size: 32, timm_model_name: 'test_rng_vit', timm_model_pretrained: false, timm_pool: '', timm_proj: 'linear', patch_dropout: 0.5 }, text_cfg: text }, 'timm');
  replays(
    {
      embed_dim: 16,
      vision_cfg: { image_size: 32, layers: 1, width: 32, head_width: 16, patch_size: 8, patch_dropout: 0.5, attentional_pool: true, attn_pooler_queries: 4, attn_pooler_heads: 2 },
      text_cfg: { ...text, embed_cls: true, pad_id: 0, vocab_size: 64 },
      multimodal_cfg: { context_length: 8, vocab_size: 64, width: 16, heads: 2, layers: 1 },
      custom_text: true,
    },
    'CoCa',
  );
  const rn = createModel({ embed_dim: 16, vision_cfg: { image_size: 32, layers: [1, 1, 1, 1], width: 8, head_width: 8 }, text_cfg: text }, { seed: 3 });
  assert.equal(rn.randomStream, null);
  rn.dispose();
});
