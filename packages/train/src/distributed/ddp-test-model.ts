/** The small model and fixed batch shared by the data-parallel tests and their child processes. */
import { tf, Rng } from '@openclip/engine';
import { createModel, type OpenClipModel } from '@openclip/models';

export const TEST_CONFIG = {
  embed_dim: 16,
  vision_cfg: { image_size: 16, layers: 1, width: 32, head_width: 16, patch_size: 8 },
  text_cfg: { context_length: 8, vocab_size: 64, width: 32, heads: 2, layers: 1 },
};

export const TRACKED = ['logit_scale', 'visual.proj', 'text_projection', 'visual.conv1.weight', 'token_embedding.weight', 'transformer.resblocks.0.attn.in_proj_weight'];

export function testModel(seed: number): OpenClipModel {
  const m = createModel(TEST_CONFIG, { seed });
  m.train();
  return m;
}

/** 8 samples: random images, token rows SOT(=62) ... EOT(=63) with varied lengths. */
export function testBatch(): { images: tf.Tensor4D; tokens: tf.Tensor2D } {
  const rng = new Rng(5);
  const images = tf.tensor4d(rng.fillNormal(new Float32Array(8 * 3 * 16 * 16)), [8, 3, 16, 16]);
  const tok = new Int32Array(8 * 8);
  for (let i = 0; i < 8; i++) {
    const len = 2 + (i % 5);
    tok[i * 8] = 62;
    for (let j = 1; j < len; j++) tok[i * 8 + j] = 1 + rng.randint(60);
    tok[i * 8 + len] = 63;
  }
  return { images, tokens: tf.tensor2d(tok, [8, 8], 'int32') };
}
