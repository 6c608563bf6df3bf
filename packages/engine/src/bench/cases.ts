/**
 * The engine benchmark cases (the 2-block transformer step, OpenCLIP's fixture-sized
 * vit_tiny CLIP, and the "bench" CLIP), each as a train step (AdamW) or an inference forward
 * pass, timed as the median of several steps in one process.
 */
import { tf } from '../tf.js';
import { Rng } from '../rng.js';
import {
  type BlocksConfig,
  type ClipConfig,
  Trainer,
  blocksForward,
  blocksParamSpecs,
  causalMask,
  clipForwardLoss,
  clipParamSpecs,
  encodeImageVit,
  encodeText,
  initValues,
  makeVariables,
  syntheticBatch,
} from './clip-model.js';

export const BLOCK2: BlocksConfig = { batch: 32, seq: 50, width: 256, heads: 4, layers: 2 };

/** OpenCLIP fixture `vit_tiny` (fixtures/reference/models/vit_tiny.config.json): head_width 32 -> 2 heads. */
export const TINY_CLIP: ClipConfig = {
  embedDim: 32,
  vision: { imageSize: 64, patchSize: 8, width: 64, layers: 2, heads: 2, mlpRatio: 4 },
  text: { contextLength: 77, vocabSize: 49408, width: 64, layers: 2, heads: 2, mlpRatio: 4 },
};

/** The "bench" CLIP: vision width 256, 4 layers, patch 8 at 64 px; text width 256, 4 layers; embed 128. */
export const BENCH_CLIP: ClipConfig = {
  embedDim: 128,
  vision: { imageSize: 64, patchSize: 8, width: 256, layers: 4, heads: 4, mlpRatio: 4 },
  text: { contextLength: 77, vocabSize: 49408, width: 256, layers: 4, heads: 4, mlpRatio: 4 },
};

export const CLIP_BATCH = 64;

export interface CaseSpec {
  name: string;
  model: 'block2' | 'tiny_clip' | 'bench_clip';
  mode: 'train' | 'infer';
  batch: number;
}

export const CASES: CaseSpec[] = (['block2', 'tiny_clip', 'bench_clip'] as const).flatMap((model) =>
  (['train', 'infer'] as const).map((mode) => ({ name: `${model}_${mode}`, model, mode, batch: model === 'block2' ? BLOCK2.batch : CLIP_BATCH })),
);

export interface Runner {
  /** Runs one step and waits for its result. */
  step(): void;
  dispose(): void;
}

const HYPER = { lr: 1e-4, weightDecay: 0.2, eps: 1e-6, beta1: 0.9, beta2: 0.98 };

export function makeRunner(c: CaseSpec): Runner {
  if (c.model === 'block2') {
    const cfg = BLOCK2;
    const specs = blocksParamSpecs(cfg);
    const params = makeVariables(specs, initValues(specs, 1));
    const x = tf.tensor(new Rng(2).fillNormal(new Float32Array(cfg.batch * cfg.seq * cfg.width)), [cfg.batch, cfg.seq, cfg.width]);
    const loss = () => tf.mean(tf.square(blocksForward(params, cfg, x))) as tf.Scalar;
    if (c.mode === 'train') {
      const trainer = new Trainer(params, HYPER);
      return { step: () => void trainer.train(loss), dispose: () => (trainer.dispose(), x.dispose()) };
    }
    return {
      step: () => {
        const y = tf.tidy(() => blocksForward(params, cfg, x));
        y.dataSync();
        y.dispose();
      },
      dispose: () => (tf.dispose([...params.values()]), x.dispose()),
    };
  }
  const cfg = c.model === 'tiny_clip' ? TINY_CLIP : BENCH_CLIP;
  const specs = clipParamSpecs(cfg);
  const params = makeVariables(specs, initValues(specs, 1));
  const b = syntheticBatch(cfg, c.batch, 2);
  const S = cfg.vision!.imageSize;
  const images = tf.tensor(b.images, [c.batch, 3, S, S]);
  const tokens = tf.tensor(b.tokens, [c.batch, cfg.text.contextLength], 'int32');
  const mask = causalMask(cfg.text.contextLength);
  const inputs = [images, tokens, mask];
  if (c.mode === 'train') {
    const trainer = new Trainer(params, HYPER);
    return { step: () => void trainer.train(() => clipForwardLoss(params, cfg, images, tokens, mask)), dispose: () => (trainer.dispose(), tf.dispose(inputs)) };
  }
  return {
    step: () => {
      const [i, t] = tf.tidy(() => [
        encodeImageVit(params, cfg.vision!, images),
        encodeText(params, cfg.text, tokens, mask),
      ]);
      i.dataSync();
      t.dataSync();
      tf.dispose([i, t]);
    },
    dispose: () => (tf.dispose([...params.values()]), tf.dispose(inputs)),
  };
}
