import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import { createModel } from '../../src/model/create.js';
import type { OpenClipModel } from '../../src/model/types.js';
import '../../src/coca/coca.js';

// --grad-checkpointing recomputes each block in the backward pass: the gradients must be those of
// the plain graph, for every parameter, and nothing may leak.

const vit = {
  embed_dim: 16,
  vision_cfg: { image_size: 32, patch_size: 8, layers: 2, width: 32, head_width: 16 },
  text_cfg: { context_length: 12, vocab_size: 49408, width: 32, heads: 2, layers: 2 },
};
const coca = {
  embed_dim: 16,
  custom_text: true,
  vision_cfg: { image_size: 32, patch_size: 8, layers: 2, width: 32, head_width: 16, attentional_pool: true, attn_pooler_queries: 5, attn_pooler_heads: 2, output_tokens: true },
  text_cfg: { context_length: 12, vocab_size: 49408, width: 16, heads: 2, layers: 2, embed_cls: true, output_tokens: true },
  multimodal_cfg: { context_length: 12, vocab_size: 49408, width: 16, heads: 2, layers: 2 },
};

function objective(model: OpenClipModel, images: Tensor, tokens: Tensor): tf.Scalar {
  return tf.tidy(() => {
    const out = model.forward(images, tokens);
    const sim = tf.mul(out.logitScale, tf.matMul(out.imageFeatures!, out.textFeatures!, false, true));
    let loss = tf.sum(tf.mul(sim, tf.range(1, sim.size + 1).reshape(sim.shape)));
    if (out.logits) loss = tf.add(loss, tf.mean(tf.mul(out.logits, tf.sin(tf.range(0, out.logits.size).reshape(out.logits.shape)))));
    return loss as tf.Scalar;
  });
}

function grads(model: OpenClipModel, images: Tensor, tokens: Tensor): Map<string, Float32Array> {
  const vars = [...model.params.entries()].filter(([, v]) => v.trainable);
  const { value, grads: g } = tf.variableGrads(() => objective(model, images, tokens), vars.map(([, v]) => v));
  const out = new Map<string, Float32Array>();
  for (const [name, v] of vars) {
    assert.ok(g[v.name], `${name} has a gradient`);
    out.set(name, g[v.name].dataSync() as Float32Array);
  }
  tf.dispose([value, ...Object.values(g)]);
  return out;
}

for (const [kind, cfg] of [['CLIP (ViT)', vit], ['CoCa (vision, text and decoder blocks)', coca]] as const) {
  test(`${kind}: checkpointed blocks give the plain gradients of every parameter`, async () => {
    await initEngine({ backend: 'cpu' });
    const model = createModel(cfg, { seed: 5 });
    model.train();
    const images = tf.randomNormal([2, 3, 32, 32], 0, 1, 'float32', 7);
    const tokens = tf.tensor2d([[49406, 320, 1929, 49407, 0, 0, 0, 0, 0, 0, 0, 0], [49406, 539, 320, 2368, 530, 49407, 0, 0, 0, 0, 0, 0]], [2, 12], 'int32');
    try {
      const plain = grads(model, images, tokens);
      const towers = model.setGradCheckpointing(true);
      assert.deepEqual(towers, cfg === coca ? ['visual', 'text', 'text_decoder'] : ['visual', 'text']);
      const before = tf.memory().numTensors;
      const ckpt = grads(model, images, tokens);
      assert.equal(tf.memory().numTensors, before, 'no tensor leaks from the recomputation');
      let worst = 0;
      for (const [name, g] of plain) {
        const h = ckpt.get(name)!;
        assert.equal(h.length, g.length, name);
        for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i] - h[i]) / (1 + Math.abs(g[i])));
      }
      assert.ok(worst <= 1e-6, `largest relative gradient difference ${worst}`);
    } finally {
      tf.dispose([images, tokens]);
      model.dispose();
    }
  });
}
