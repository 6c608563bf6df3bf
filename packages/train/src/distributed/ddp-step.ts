/**
 * The data-parallel train step (what DistributedDataParallel gives OpenCLIP): each rank forwards
 * its micro-batch, the loss runs its collectives (all-gather of features, SigLIP's neighbour
 * exchange) and returns the gradients of this rank's loss with respect to this rank's model
 * outputs; the parameter gradients follow from one backward pass through the model, are averaged
 * over ranks with one bucketed all-reduce, and every rank applies the same AdamW step.
 *
 * TensorFlow.js tapes are synchronous while collectives are not, so the backward pass re-runs the
 * forward under the tape (with the output gradients as constants): two forwards per step.
 */
import { tf } from '@openclip/engine';
import type { Tensor, Variable } from '@openclip/engine';
import type { OpenClipModel } from '@openclip/models';
import type { OpenClipLoss, GradKey } from '@openclip/losses';
import type { AdamW } from '../optim/adamw.js';
import { applyUpdate, lossInput, type MicroBatch, type StepResult } from '../train-step.js';
import type { ArrayTransport } from '@openclip/losses';

const OUTPUT_KEYS: Record<GradKey, 'imageFeatures' | 'textFeatures' | 'logitScale' | 'logitBias' | 'logits'> = {
  image_features: 'imageFeatures',
  text_features: 'textFeatures',
  logit_scale: 'logitScale',
  logit_bias: 'logitBias',
  logits: 'logits',
};

export interface DistributedStepOptions {
  trainable: string[];
  gradClipNorm?: number | null;
}

/** Broadcasts rank 0's parameters and buffers to every rank (DDP's start-up sync). */
export async function broadcastModel(model: OpenClipModel, transport: ArrayTransport): Promise<void> {
  const vars = [...model.stateDict().values()].filter((v) => v.dtype === 'float32');
  const total = vars.reduce((a, v) => a + v.size, 0);
  let flat: Float32Array | null = null;
  if (transport.rank === 0) {
    flat = new Float32Array(total);
    let o = 0;
    for (const v of vars) {
      flat.set(v.dataSync() as Float32Array, o);
      o += v.size;
    }
  }
  const got = await transport.broadcast(flat, 0);
  if (got.length !== total) throw new Error(`broadcastModel: rank 0 sent ${got.length} values, this rank's model has ${total}: are all ranks running the same --model?`);
  let o = 0;
  for (const v of vars) {
    const t = tf.tensor(got.subarray(o, o + v.size), v.shape, 'float32');
    v.assign(t);
    t.dispose();
    o += v.size;
  }
}

export class DistributedTrainStep {
  private readonly vars: Variable[];
  private readonly names: string[];
  private readonly gradClipNorm: number | null;

  constructor(
    readonly model: OpenClipModel,
    readonly loss: OpenClipLoss,
    readonly optimizer: AdamW,
    readonly transport: ArrayTransport,
    options: DistributedStepOptions,
  ) {
    if (loss.worldSize !== transport.worldSize || loss.rank !== transport.rank) {
      throw new Error(`the loss runs on rank ${loss.rank} of ${loss.worldSize}, the transport on rank ${transport.rank} of ${transport.worldSize}`);
    }
    this.names = options.trainable;
    this.vars = options.trainable.map((n) => {
      const v = model.params.get(n);
      if (!v) throw new Error(`trainable parameter '${n}' is not a parameter of the model`);
      return v;
    });
    this.gradClipNorm = options.gradClipNorm ?? null;
  }

  /** Gradients of this rank's loss, before averaging over ranks (exposed for tests). */
  async localGrads(mb: MicroBatch): Promise<{ grads: Map<string, Tensor>; losses: Record<string, number>; total: number }> {
    const out = tf.tidy(() => this.model.forward(mb.images, mb.tokens) as unknown as tf.TensorContainer) as unknown as ReturnType<OpenClipModel['forward']>;
    let r;
    try {
      r = await this.loss.lossAndGrads(lossInput(out));
    } finally {
      tf.dispose(out as unknown as tf.TensorContainer);
    }
    const losses = Object.fromEntries(Object.entries(r.losses).map(([k, v]) => [k, v.dataSync()[0]]));
    const total = r.total.dataSync()[0];
    tf.dispose([...Object.values(r.losses), r.total]);
    const outGrads = r.grads;
    try {
      const g = tf.variableGrads(() => {
        const fresh = this.model.forward(mb.images, mb.tokens);
        const terms: Tensor[] = [];
        for (const [key, grad] of Object.entries(outGrads) as [GradKey, Tensor | undefined][]) {
          const y = fresh[OUTPUT_KEYS[key]] as Tensor | undefined;
          if (!grad || !y) continue;
          terms.push(tf.sum(tf.mul(y, grad)));
        }
        return tf.addN(terms) as tf.Scalar;
      }, this.vars);
      g.value.dispose();
      const grads = new Map<string, Tensor>();
      this.vars.forEach((v, i) => {
        const t = g.grads[v.name];
        grads.set(this.names[i], t ?? tf.zerosLike(v));
      });
      return { grads, losses, total };
    } finally {
      tf.dispose(Object.values(outGrads).filter(Boolean) as Tensor[]);
    }
  }

  /** Averages gradients over ranks with one all-reduce of all of them. */
  async averageGrads(grads: Map<string, Tensor>): Promise<Map<string, Tensor>> {
    if (this.transport.worldSize === 1) return grads;
    const list = this.names.map((n) => grads.get(n)!);
    const total = list.reduce((a, t) => a + t.size, 0);
    const flat = new Float32Array(total);
    let o = 0;
    for (const t of list) {
      flat.set(t.dataSync() as Float32Array, o);
      o += t.size;
    }
    const mean = await this.transport.allReduce(flat, 'mean');
    const out = new Map<string, Tensor>();
    o = 0;
    this.names.forEach((n, i) => {
      out.set(n, tf.tensor(mean.subarray(o, o + list[i].size), list[i].shape, 'float32'));
      o += list[i].size;
    });
    tf.dispose(list);
    return out;
  }

  async run(microBatches: MicroBatch[], lr: number): Promise<StepResult> {
    if (microBatches.length !== 1) throw new Error('--accum-freq > 1 is not supported with more than one process yet; use a larger --batch-size or one process');
    const local = await this.localGrads(microBatches[0]);
    const grads = await this.averageGrads(local.grads);
    return { losses: local.losses, total: local.total, ...applyUpdate(this.model, this.optimizer, grads, lr, this.gradClipNorm) };
  }
}
