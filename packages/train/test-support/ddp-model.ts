/** The small model, fixed batch and step modes shared by the data-parallel tests and their child processes. */
import { tf, Rng } from '@openclip/engine';
import { createModel, type OpenClipModel } from '@openclip/models';
import type { MicroBatch } from '../src/train-step.js';

export const TEST_CONFIG = {
  embed_dim: 16,
  vision_cfg: { image_size: 16, layers: 1, width: 32, head_width: 16, patch_size: 8 },
  text_cfg: { context_length: 8, vocab_size: 64, width: 32, heads: 2, layers: 1 },
};

export const TRACKED = ['logit_scale', 'visual.proj', 'text_projection', 'visual.conv1.weight', 'token_embedding.weight', 'transformer.resblocks.0.attn.in_proj_weight'];

/** Samples in the fixed batch (the whole step, over all ranks and accumulation steps). */
export const BATCH = 8;

export function testModel(seed: number, config: object = TEST_CONFIG): OpenClipModel {
  const m = createModel(config as typeof TEST_CONFIG, { seed });
  m.train();
  return m;
}

/** The frozen teacher of the distillation modes. */
export function testTeacher(): OpenClipModel {
  return testModel(11).eval();
}

/** 8 samples: random images, token rows SOT(=62) ... EOT(=63) with varied lengths. */
export function testBatch(): { images: tf.Tensor4D; tokens: tf.Tensor2D } {
  const rng = new Rng(5);
  const images = tf.tensor4d(rng.fillNormal(new Float32Array(BATCH * 3 * 16 * 16)), [BATCH, 3, 16, 16]);
  const tok = new Int32Array(BATCH * 8);
  for (let i = 0; i < BATCH; i++) {
    const len = 2 + (i % 5);
    tok[i * 8] = 62;
    for (let j = 1; j < len; j++) tok[i * 8 + j] = 1 + rng.randint(60);
    tok[i * 8 + len] = 63;
  }
  return { images, tokens: tf.tensor2d(tok, [BATCH, 8], 'int32') };
}

/**
 * A test mode, written as dash-separated words: `local` (--local-loss), `gwg`
 * (--gather-with-grad), `plain` (neither), `siglip` followed by its dist impl, `accum`
 * (--accum-freq 2), `distill` (a frozen teacher and DistillClipLoss).
 */
export interface Mode {
  localLoss: boolean;
  gatherWithGrad: boolean;
  siglip: boolean;
  distImpl: string | undefined;
  accumFreq: number;
  distill: boolean;
}

export function parseMode(mode: string): Mode {
  const w = mode.split('-');
  const known = new Set(['local', 'gwg', 'plain', 'siglip', 'bidir', 'shift', 'reduce', 'gather', 'accum', 'distill']);
  for (const x of w) if (!known.has(x)) throw new Error(`test mode '${mode}': unknown word '${x}'`);
  const s = w.indexOf('siglip');
  return {
    localLoss: w.includes('local'),
    gatherWithGrad: w.includes('gwg'),
    siglip: s >= 0,
    distImpl: s >= 0 ? (w[s + 1] ?? 'bidir') : undefined,
    accumFreq: w.includes('accum') ? 2 : 1,
    distill: w.includes('distill'),
  };
}

/**
 * The micro-batches of `rank` in a world of `world` ranks: accumulation step j covers rows
 * [j·B/a, (j+1)·B/a) of the batch, split over the ranks in rank order, as the data loader shards a
 * global batch. World 1 gives the single-process micro-batches.
 */
export function microBatches(full: { images: tf.Tensor; tokens: tf.Tensor }, mode: Mode, rank: number, world: number): MicroBatch[] {
  const perStep = BATCH / mode.accumFreq;
  const n = perStep / world;
  return Array.from({ length: mode.accumFreq }, (_, j) => {
    const start = j * perStep + rank * n;
    return { images: full.images.slice([start, 0, 0, 0], [n, -1, -1, -1]), tokens: full.tokens.slice([start, 0], [n, -1]) };
  });
}
