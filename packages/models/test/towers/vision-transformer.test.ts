import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, ops, Rng, tf } from '@openclip/engine';
import { parseModelConfig } from '../../src/config/model-config.js';
import { ParamStore } from '../../src/towers/params.js';
import { VisionTransformer } from '../../src/towers/vision-transformer.js';

const visionCfg = (extra: Record<string, unknown>) => parseModelConfig({
  embed_dim: 8,
  vision_cfg: { image_size: 32, layers: 1, width: 16, head_width: 8, patch_size: 8, ...extra },
  text_cfg: { context_length: 4, vocab_size: 20, width: 8, heads: 2, layers: 1 },
}).vision_cfg;

for (const backend of ['cpu', 'wasm']) {
  test(`patch embedding (patchify + matmul) equals a strided conv2d, non-square image and patch (${backend})`, async () => {
    await initEngine({ backend });
    const store = new ParamStore(new Rng(3));
    const vit = new VisionTransformer(store, 'visual', visionCfg({ image_size: [24, 40], patch_size: [6, 10] }), { outputDim: 8, quickGelu: false });
    assert.deepEqual(vit.gridSize, [4, 4]);
    assert.deepEqual(vit.positionalEmbedding.shape, [17, 16]);
    const img = tf.randomNormal([2, 3, 24, 40], 0, 1, 'float32', 4);
    const diff = tf.tidy(() => {
      const ours = ops.linear(vit.patchify(img), tf.reshape(vit.conv1Weight, [16, -1])); // [B, 16, W]
      const filter = tf.transpose(vit.conv1Weight, [2, 3, 1, 0]) as tf.Tensor4D;
      const conv = tf.conv2d(tf.transpose(img, [0, 2, 3, 1]) as tf.Tensor4D, filter, [6, 10], 'valid'); // [B, 4, 4, W]
      return tf.max(tf.abs(tf.sub(ours, tf.reshape(conv, [2, 16, 16])))).dataSync()[0];
    });
    assert.ok(diff < 1e-4, `max diff ${diff}`);
    const wrong = tf.zeros([1, 3, 32, 32]);
    assert.throws(() => vit.forward(wrong), /images are 32x32 but the model was built for 24x40 \(vision_cfg\.image_size/);
    tf.dispose([img, wrong]);
    store.dispose();
  });
}
