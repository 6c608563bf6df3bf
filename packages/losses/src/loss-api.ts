/**
 * What every loss shares: OpenCLIP's model-output dict as input (`loss(**model_out,
 * output_dict=True)` in open_clip_train/train.py), the loss dict as output, the gradients of
 * the summed losses with respect to the differentiable outputs, and the world the loss runs in.
 */
import { tf } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import { SingleProcessCollective } from './collective.js';
import type { Collective } from './collective.js';

/** The model outputs a loss reads, under OpenCLIP's key names. */
export interface ModelOutput {
  image_features: Tensor;
  text_features: Tensor;
  /** The multiplier itself, exp(logit_scale parameter), a scalar. */
  logit_scale: Tensor;
  logit_bias?: Tensor | null;
  /** CoCa caption logits [B, T, V] and labels int32 [B, T]. */
  logits?: Tensor;
  labels?: Tensor;
  /** DistillClipLoss: the teacher's features and multiplier. */
  dist_image_features?: Tensor;
  dist_text_features?: Tensor;
  dist_logit_scale?: Tensor;
}

/** Output keys a loss differentiates with respect to. */
export type GradKey = 'image_features' | 'text_features' | 'logit_scale' | 'logit_bias' | 'logits';

export interface LossAndGrads {
  /** The loss dict (`contrastive_loss`, `caption_loss`, `distill_loss`), scalars owned by the caller. */
  losses: Record<string, Tensor>;
  /** Sum of the losses (OpenCLIP's `total_loss`). */
  total: Tensor;
  /**
   * Gradients of this rank's `total` with respect to this rank's model outputs, after the
   * backward pass of every collective (so, with gather-with-grad, they include the other
   * ranks' contributions). Averaging parameter gradients over ranks, as DDP does, is the
   * training loop's job.
   */
  grads: Partial<Record<GradKey, Tensor>>;
}

export interface OpenClipLoss {
  /** The OpenCLIP class this reproduces. */
  readonly name: string;
  readonly rank: number;
  readonly worldSize: number;
  /** Synchronous, differentiable loss dict (world size 1); use inside tf.grads / tf.variableGrads. */
  call(out: ModelOutput): Record<string, Tensor>;
  /** Loss dict and gradients on any world size (runs the collectives). */
  lossAndGrads(out: ModelOutput): Promise<LossAndGrads>;
  /** Releases cached tensors (labels). */
  dispose(): void;
}

/** Where a loss runs: OpenCLIP's `rank` / `world_size` arguments, and the collective behind them. */
export interface WorldOptions {
  rank?: number;
  worldSize?: number;
  /** Required when worldSize > 1; its rank and worldSize win over the two options. */
  collective?: Collective;
}

export function resolveWorld(loss: string, o: WorldOptions): { collective: Collective; rank: number; worldSize: number } {
  const c = o.collective ?? null;
  if (c) {
    if (o.worldSize !== undefined && o.worldSize !== c.worldSize) {
      throw new Error(`${loss}: worldSize ${o.worldSize} disagrees with the collective's worldSize ${c.worldSize}`);
    }
    if (o.rank !== undefined && o.rank !== c.rank) throw new Error(`${loss}: rank ${o.rank} disagrees with the collective's rank ${c.rank}`);
    return { collective: c, rank: c.rank, worldSize: c.worldSize };
  }
  const worldSize = o.worldSize ?? 1;
  const rank = o.rank ?? 0;
  if (worldSize !== 1) throw new Error(`${loss}: worldSize ${worldSize} needs a collective (pass options.collective)`);
  if (rank !== 0) throw new Error(`${loss}: rank ${rank} is outside a world of size 1`);
  return { collective: new SingleProcessCollective(), rank: 0, worldSize: 1 };
}

/** Throws a clear error unless `t` is a float32 tensor of rank `rank` (shape checked where given). */
export function checkTensor(loss: string, key: string, t: Tensor | null | undefined, rank: number, shape?: (number | null)[]): Tensor {
  if (!t) throw new Error(`${loss}: missing '${key}'`);
  if (t.rank !== rank) throw new Error(`${loss}: '${key}' must have rank ${rank}, got shape [${t.shape}]`);
  if (shape && shape.some((d, i) => d !== null && d !== t.shape[i])) {
    throw new Error(`${loss}: '${key}' has shape [${t.shape}], expected [${shape.map((d) => d ?? '*')}]`);
  }
  return t;
}

/**
 * Runs `fn` (a loss dict from differentiable inputs) under a gradient tape: the dict, its sum
 * and the gradient of the sum for each input (zeros for an input the losses do not reach).
 */
export function valueAndGradsOf(
  fn: (...xs: Tensor[]) => Record<string, Tensor>,
  xs: Tensor[],
): { losses: Record<string, Tensor>; total: Tensor; grads: Tensor[] } {
  const losses: Record<string, Tensor> = {};
  // engine().gradients with allowNoGradients: an input no loss reaches gets no gradient (zeros below).
  const { value, grads } = tf.engine().gradients(
    () => {
      const d = fn(...xs);
      for (const [k, v] of Object.entries(d)) losses[k] = tf.keep(v);
      const parts = Object.values(d);
      return parts.length === 1 ? tf.add(parts[0], 0) : tf.addN(parts);
    },
    xs,
    undefined,
    true,
  );
  const filled = xs.map((x, i) => grads[i] ?? tf.zerosLike(x));
  return { losses, total: value, grads: filled };
}
