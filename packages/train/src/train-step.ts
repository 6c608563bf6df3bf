/**
 * One optimizer step of OpenCLIP's `train_one_epoch`: forward, loss, backward, gradient
 * clipping, AdamW with the scheduled learning rate, then the `logit_scale` clamp to ln(100).
 * With `accum_freq` > 1 it is OpenCLIP's feature-caching accumulation: every micro-batch is first
 * forwarded without gradients to cache its features; then each is forwarded again with
 * gradients, its fresh features substituted into the cached concatenation, and the loss over the
 * whole accumulated batch back-propagated — the gradient of one large-batch contrastive loss.
 */
import { tf } from '@openclip/engine';
import type { Tensor, Variable } from '@openclip/engine';
import type { ClipForwardOutput, OpenClipModel } from '@openclip/models';
import type { ModelOutput, OpenClipLoss } from '@openclip/losses';
import type { AdamW } from './optim/adamw.js';
import { clipGradNorm } from './optim/grad-clip.js';
import { clampLogitScale } from './optim/logit-scale.js';

export interface MicroBatch {
  /** float32 [B, 3, H, W]. */
  images: Tensor;
  /** int32 [B, context]. */
  tokens: Tensor;
}

export interface StepResult {
  /** Each loss term (contrastive_loss, caption_loss, distill_loss) of the last backward pass. */
  losses: Record<string, number>;
  total: number;
  /** exp(logit_scale) after the clamp (the "Logit Scale" of OpenCLIP's log line). */
  logitScale: number;
  /** Global gradient norm before clipping (only computed with --grad-clip-norm). */
  gradNorm: number | null;
}

export interface TrainStepOptions {
  /** Names of the parameters to train (locked towers and frozen parameters left out). */
  trainable: string[];
  gradClipNorm?: number | null;
  /** Frozen teacher for distillation: its features join the loss input as dist_*. */
  teacher?: OpenClipModel | null;
}

/** OpenCLIP's model output dict, under the loss's key names. */
export function lossInput(out: ClipForwardOutput, teacher?: ClipForwardOutput | null): ModelOutput {
  if (!out.imageFeatures || !out.textFeatures) throw new Error('training needs both image and text features');
  const m: ModelOutput = { image_features: out.imageFeatures, text_features: out.textFeatures, logit_scale: out.logitScale };
  if (out.logitBias) m.logit_bias = out.logitBias;
  if (out.logits) m.logits = out.logits;
  if (out.labels) m.labels = out.labels;
  if (teacher) {
    m.dist_image_features = teacher.imageFeatures!;
    m.dist_text_features = teacher.textFeatures!;
    m.dist_logit_scale = teacher.logitScale;
  }
  return m;
}

/** The keys OpenCLIP's accumulation caches and concatenates (everything batch-shaped). */
export const ACCUMULATED: (keyof ModelOutput)[] = ['image_features', 'text_features', 'logits', 'labels', 'dist_image_features', 'dist_text_features'];

/**
 * The update half of a step: clip the gradients to `gradClipNorm` (when set), AdamW at `lr`, dispose
 * the gradients, clamp `logit_scale` to ln(100). Returns the norm before clipping and exp(logit_scale).
 */
export function applyUpdate(model: OpenClipModel, optimizer: AdamW, grads: Map<string, Tensor>, lr: number, gradClipNorm: number | null): { gradNorm: number | null; logitScale: number } {
  let gradNorm: number | null = null;
  let scale = 1;
  if (gradClipNorm !== null) {
    const c = clipGradNorm(grads, gradClipNorm);
    gradNorm = c.totalNorm;
    scale = c.scale;
  }
  optimizer.step(grads, { lr, gradScale: scale });
  tf.dispose([...grads.values()]);
  clampLogitScale(model.params);
  const ls = model.params.get('logit_scale');
  return { gradNorm, logitScale: ls ? Math.exp(ls.dataSync()[0]) : NaN };
}

export class TrainStep {
  private readonly vars: Variable[];
  private readonly keyOf = new Map<string, string>();
  private readonly gradClipNorm: number | null;
  private readonly teacher: OpenClipModel | null;

  constructor(
    readonly model: OpenClipModel,
    readonly loss: OpenClipLoss,
    readonly optimizer: AdamW,
    options: TrainStepOptions,
  ) {
    this.vars = options.trainable.map((name) => {
      const v = model.params.get(name);
      if (!v) throw new Error(`trainable parameter '${name}' is not a parameter of the model`);
      this.keyOf.set(v.name, name);
      return v;
    });
    this.gradClipNorm = options.gradClipNorm ?? null;
    this.teacher = options.teacher ?? null;
    if (loss.worldSize !== 1) throw new Error('TrainStep runs the single-process step; use the distributed step for world size > 1');
  }

  private teacherOut(mb: MicroBatch): ClipForwardOutput | null {
    return this.teacher ? this.teacher.forward(mb.images, mb.tokens) : null;
  }

  /** Runs one optimizer step over `microBatches` (one per accumulation step) at learning rate `lr`. */
  run(microBatches: MicroBatch[], lr: number): StepResult {
    const r = this.grads(microBatches);
    return { losses: r.losses, total: r.total, ...applyUpdate(this.model, this.optimizer, r.grads, lr, this.gradClipNorm) };
  }

  /** The step's gradients by parameter name (caller disposes), its loss terms and total, without the update. */
  grads(microBatches: MicroBatch[]): { grads: Map<string, Tensor>; losses: Record<string, number>; total: number } {
    if (microBatches.length === 0) throw new Error('no micro-batches');
    const lossValues: Record<string, number> = {};
    let total = 0;
    let grads: Map<string, Tensor>;
    if (microBatches.length === 1) {
      const mb = microBatches[0];
      const teacher = this.teacher ? (tf.tidy(() => this.teacherOut(mb) as unknown as tf.TensorContainer) as unknown as ClipForwardOutput) : null;
      let r: { value: tf.Scalar; grads: tf.NamedTensorMap };
      try {
        r = tf.variableGrads(() => {
          const losses = this.loss.call(lossInput(this.model.forward(mb.images, mb.tokens), teacher));
          for (const [k, v] of Object.entries(losses)) lossValues[k] = v.dataSync()[0];
          return tf.addN(Object.values(losses)) as tf.Scalar;
        }, this.vars);
      } finally {
        if (teacher) tf.dispose(teacher as unknown as tf.TensorContainer);
      }
      total = r.value.dataSync()[0];
      r.value.dispose();
      grads = this.named(r.grads);
    } else {
      grads = this.accumulate(microBatches, lossValues, (t) => (total = t));
    }
    return { grads, losses: lossValues, total };
  }

  private named(grads: tf.NamedTensorMap): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [vname, g] of Object.entries(grads)) out.set(this.keyOf.get(vname)!, g);
    return out;
  }

  /** OpenCLIP's two-pass feature-caching accumulation (train.py, accum_freq > 1). */
  private accumulate(microBatches: MicroBatch[], lossValues: Record<string, number>, setTotal: (t: number) => void): Map<string, Tensor> {
    // pass 1: cache every micro-batch's outputs without gradients
    const cached: ModelOutput[] = microBatches.map((mb) =>
      tf.tidy(() => {
        const o = lossInput(this.model.forward(mb.images, mb.tokens), this.teacherOut(mb));
        return o as unknown as tf.TensorContainer;
      }) as unknown as ModelOutput,
    );
    const sums = new Map<string, Tensor>();
    try {
      microBatches.forEach((mb, j) => {
        const r = tf.variableGrads(() => {
          const fresh = lossInput(this.model.forward(mb.images, mb.tokens), null);
          const input: ModelOutput = { ...fresh };
          for (const key of ACCUMULATED) {
            const c = cached[j][key] as Tensor | undefined;
            if (!c) continue;
            const own = (fresh[key] as Tensor | undefined) ?? c; // teacher outputs come from the cache
            (input as unknown as Record<string, Tensor>)[key] = tf.concat(cached.map((o, i) => (i === j ? own : (o[key] as Tensor))), 0);
          }
          const losses = this.loss.call(input);
          for (const [k, v] of Object.entries(losses)) lossValues[k] = v.dataSync()[0];
          return tf.addN(Object.values(losses)) as tf.Scalar;
        }, this.vars);
        setTotal(r.value.dataSync()[0]);
        r.value.dispose();
        for (const [name, g] of this.named(r.grads)) {
          const prev = sums.get(name);
          if (prev) {
            sums.set(name, tf.add(prev, g));
            prev.dispose();
            g.dispose();
          } else sums.set(name, g);
        }
      });
    } finally {
      for (const o of cached) tf.dispose(o as unknown as tf.TensorContainer);
    }
    return sums;
  }
}
