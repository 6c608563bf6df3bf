/**
 * The data-parallel train step (what DistributedDataParallel gives OpenCLIP): each rank forwards
 * its micro-batches, the loss runs its collectives (all-gather of features, SigLIP's neighbour
 * exchange) and returns the gradients of this rank's loss with respect to this rank's model
 * outputs; the parameter gradients follow from a backward pass through the model per micro-batch,
 * are averaged over ranks in one all-reduce call, and every rank applies the same AdamW step.
 *
 * TensorFlow.js tapes are synchronous while collectives are not. With one micro-batch the step keeps
 * the forward pass's tape open across the loss's collectives (see `TapeSession`) and back-propagates
 * the output gradients through it: one forward, one backward. Where that is not possible (several
 * micro-batches, whose tapes together would hold every activation of the accumulated batch), the
 * backward pass re-runs each micro-batch's forward under the tape with the output gradients as
 * constants; the re-run replays the first one exactly (PatchDropout's random stream and BatchNorm's
 * running statistics are put back first), so the gradient belongs to the features the loss saw.
 *
 * The gradient all-reduce sends the rows of embedding tables (`token_embedding.weight`) that some
 * rank touched and skips the rest, which are zero on every rank: the same averaged gradient as a
 * dense all-reduce, with a fraction of the traffic (the demo model's vocabulary is 83% of its
 * parameters, a batch touches a few hundred of its 49,408 rows).
 *
 * `--accum-freq` > 1 is OpenCLIP's feature-caching accumulation across ranks: pass j of train.py
 * computes the loss of the whole accumulated batch (cached features, micro-batch j fresh) and
 * back-propagates into micro-batch j. Every pass sees the same features, so one loss evaluation
 * gives the gradient rows of all micro-batches; `logit_scale` (and `logit_bias`) receive the
 * gradient once per pass, accum_freq times in all, as in OpenCLIP. DDP all-reduces after each of
 * OpenCLIP's backward calls; the sum of those averages is the average of the sums, so here the
 * gradients are all-reduced once per optimizer step.
 */
import { tf, readOnlyValues, readValuesInto, tensorFromValues, writableValues } from '@openclip/engine';
import type { Tensor, Variable } from '@openclip/engine';
import type { ClipForwardOutput, OpenClipModel } from '@openclip/models';
import type { OpenClipLoss, GradKey } from '@openclip/losses';
import type { AdamW } from '../optim/adamw.js';
import { ACCUMULATED, applyUpdate, lossInput, type MicroBatch, type StepResult } from '../train-step.js';
import type { ModelOutput } from '@openclip/losses';
import type { RngState } from '@openclip/engine';
import type { ArrayTransport } from '@openclip/losses';
import { TapeSession } from './tape-session.js';

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
  /** Frozen teacher for distillation (runs on every rank on its own micro-batches, no gradient). */
  teacher?: OpenClipModel | null;
  /** Gradients of at least this many values are all-reduced in their own arrays (default 65536; smaller ones are packed). */
  inPlaceMin?: number;
}

/** What a forward pass changes besides its outputs: PatchDropout's random stream and BatchNorm buffers. */
interface ForwardState {
  rng: RngState | null;
  buffers: Tensor[];
}

function saveForwardState(model: OpenClipModel): ForwardState {
  const rng = model.randomStream;
  return { rng: rng ? rng.getState() : null, buffers: [...model.buffers.values()].map((b) => tf.keep(tf.clone(b))) };
}

function restoreForwardState(model: OpenClipModel, s: ForwardState): void {
  const rng = model.randomStream;
  if (rng && s.rng) rng.setState(s.rng);
  [...model.buffers.values()].forEach((b, i) => b.assign(s.buffers[i]));
}

/** Gradients that are zero outside the rows a batch touched: embedding tables. */
const ROW_SPARSE = /(^|\.)token_embedding\.weight$/;

/** Gradients of at least this many values are all-reduced in their own arrays by default (smaller ones are packed). */
const IN_PLACE_MIN = 1 << 16;

export class DistributedTrainStep {
  private readonly vars: Variable[];
  private readonly names: string[];
  private readonly gradClipNorm: number | null;
  private readonly teacher: OpenClipModel | null;
  private readonly inPlaceMin: number;
  private flat: Float32Array | null = null;
  /** How many gradients the last `averageGrads` reduced in their own arrays (the rest were packed). */
  reducedInPlace = 0;

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
    this.teacher = options.teacher ?? null;
    this.inPlaceMin = options.inPlaceMin ?? IN_PLACE_MIN;
    if (!(this.inPlaceMin >= 1)) throw new Error(`inPlaceMin must be at least 1, got ${this.inPlaceMin}`);
  }

  /**
   * Gradients of this rank's loss summed over its micro-batches (one per accumulation step),
   * before averaging over ranks (exposed for tests). `losses` / `total` are this rank's values of
   * the loss over the whole accumulated batch.
   */
  async localGrads(microBatches: MicroBatch | MicroBatch[]): Promise<{ grads: Map<string, Tensor>; losses: Record<string, number>; total: number }> {
    const mbs = Array.isArray(microBatches) ? microBatches : [microBatches];
    if (mbs.length === 0) throw new Error('no micro-batches');
    if (mbs.length === 1 && TapeSession.available()) return this.oneTapeGrads(mbs[0]);
    return this.replayGrads(mbs);
  }

  /** One micro-batch: forward under an open tape, the loss's collectives, backward through that tape. */
  private async oneTapeGrads(mb: MicroBatch): Promise<{ grads: Map<string, Tensor>; losses: Record<string, number>; total: number }> {
    const teacher = this.teacher ? (tf.tidy(() => this.teacher!.forward(mb.images, mb.tokens) as unknown as tf.TensorContainer) as unknown as ClipForwardOutput) : null;
    const session = TapeSession.open();
    let out: ClipForwardOutput | null = null;
    let outGrads: Partial<Record<GradKey, Tensor>> = {};
    let done = false;
    try {
      out = session.record(() => this.model.forward(mb.images, mb.tokens) as unknown as tf.TensorContainer) as unknown as ClipForwardOutput;
      const r = await this.loss.lossAndGrads(lossInput(out, teacher));
      const losses = Object.fromEntries(Object.entries(r.losses).map(([k, v]) => [k, v.dataSync()[0]]));
      const total = r.total.dataSync()[0];
      tf.dispose([...Object.values(r.losses), r.total]);
      outGrads = r.grads;
      const fwd = out;
      done = true;
      const g = session.gradients(() => {
        const terms: Tensor[] = [];
        for (const [key, grad] of Object.entries(outGrads) as [GradKey, Tensor | undefined][]) {
          const y = fwd[OUTPUT_KEYS[key]] as Tensor | undefined;
          if (grad && y) terms.push(tf.sum(tf.mul(y, grad)));
        }
        return tf.addN(terms) as tf.Scalar;
      }, this.vars);
      g.value.dispose();
      const grads = new Map<string, Tensor>();
      this.vars.forEach((v, i) => grads.set(this.names[i], g.grads[v.name] ?? tf.zerosLike(v)));
      return { grads, losses, total };
    } finally {
      if (!done) session.close();
      tf.dispose(Object.values(outGrads).filter(Boolean) as Tensor[]);
      if (out) tf.dispose(out as unknown as tf.TensorContainer);
      if (teacher) tf.dispose(teacher as unknown as tf.TensorContainer);
    }
  }

  /** Any number of micro-batches: outputs without tape, one loss evaluation, then a replayed forward + backward per micro-batch. */
  private async replayGrads(mbs: MicroBatch[]): Promise<{ grads: Map<string, Tensor>; losses: Record<string, number>; total: number }> {
    const states: ForwardState[] = [];
    const outs: ModelOutput[] = [];
    let input: ModelOutput | null = null;
    let outGrads: LossAndGradsGrads = {};
    try {
      // pass 1: every micro-batch's outputs (and the teacher's), no tape
      for (const mb of mbs) {
        states.push(saveForwardState(this.model));
        outs.push(
          tf.tidy(() => {
            const teacher = this.teacher ? this.teacher.forward(mb.images, mb.tokens) : null;
            return lossInput(this.model.forward(mb.images, mb.tokens), teacher) as unknown as tf.TensorContainer;
          }) as unknown as ModelOutput,
        );
      }
      input = mbs.length === 1 ? outs[0] : concatOutputs(outs);
      const r = await this.loss.lossAndGrads(input);
      const losses = Object.fromEntries(Object.entries(r.losses).map(([k, v]) => [k, v.dataSync()[0]]));
      const total = r.total.dataSync()[0];
      tf.dispose([...Object.values(r.losses), r.total]);
      outGrads = r.grads;
      // pass 2: replay each micro-batch's forward under the tape, weighted by its rows of the output gradients
      const sums = new Map<string, Tensor>();
      let row = 0;
      mbs.forEach((mb, j) => {
        const n = mb.images.shape[0]!;
        restoreForwardState(this.model, states[j]);
        const g = tf.variableGrads(() => {
          const fresh = this.model.forward(mb.images, mb.tokens);
          const terms: Tensor[] = [];
          for (const [key, grad] of Object.entries(outGrads) as [GradKey, Tensor | undefined][]) {
            const y = fresh[OUTPUT_KEYS[key]] as Tensor | undefined;
            if (!grad || !y) continue;
            const rows = mbs.length > 1 && ACCUMULATED.includes(key) ? tf.slice(grad, row, n) : grad;
            terms.push(tf.sum(tf.mul(y, rows)));
          }
          return tf.addN(terms) as tf.Scalar;
        }, this.vars);
        g.value.dispose();
        this.vars.forEach((v, i) => {
          const t = g.grads[v.name] ?? tf.zerosLike(v);
          const prev = sums.get(this.names[i]);
          if (prev) {
            sums.set(this.names[i], tf.add(prev, t));
            tf.dispose([prev, t]);
          } else sums.set(this.names[i], t);
        });
        row += n;
      });
      return { grads: sums, losses, total };
    } finally {
      tf.dispose(Object.values(outGrads).filter(Boolean) as Tensor[]);
      if (input && mbs.length > 1) tf.dispose(input as unknown as tf.TensorContainer);
      for (const o of outs) tf.dispose(o as unknown as tf.TensorContainer);
      for (const s of states) tf.dispose(s.buffers);
    }
  }

  /**
   * Averages gradients over ranks with one all-reduce call for all of them; embedding tables travel as
   * the rows some rank touched (their union, agreed on with a small all-reduce of row masks first).
   * Where the transport reduces several arrays as one (`allReduceParts`) and the backend lets the
   * step write a gradient's own array, large gradients are reduced in place; the rest (small
   * tensors, picked rows) travel in one buffer kept across steps, and their averages are written
   * back into the gradient tensors' own arrays where the backend allows it (else into recycled
   * ones): a step allocates nothing, so no fresh pages are touched after the first. Which arrays
   * travel whole and which go through the buffer depends only on sizes, so every rank cuts the
   * gradients alike.
   */
  async averageGrads(grads: Map<string, Tensor>): Promise<Map<string, Tensor>> {
    if (this.transport.worldSize === 1) return grads;
    const list = this.names.map((n) => grads.get(n)!);
    const width = list.map((t, i) => (ROW_SPARSE.test(this.names[i]) && t.rank === 2 ? t.shape[1]! : 0));
    // rows per sparse table: the union over ranks of the rows with a nonzero entry
    const rowsOf: (Int32Array | null)[] = list.map(() => null);
    const maskSize = list.reduce((a, t, i) => a + (width[i] ? t.shape[0]! : 0), 0);
    if (maskSize > 0) {
      const mask = new Float32Array(maskSize);
      let m = 0;
      list.forEach((t, i) => {
        if (!width[i]) return;
        markNonzeroRows(readOnlyValues(t), width[i], mask, m);
        m += t.shape[0]!;
      });
      const union = await this.transport.allReduce(mask, 'max');
      m = 0;
      list.forEach((t, i) => {
        if (!width[i]) return;
        const rows = t.shape[0]!;
        let count = 0;
        for (let r = 0; r < rows; r++) if (union[m + r] !== 0) count++;
        const picked = new Int32Array(count);
        for (let r = 0, k = 0; r < rows; r++) if (union[m + r] !== 0) picked[k++] = r;
        rowsOf[i] = picked;
        m += rows;
      });
    }
    // what travels: dense tensors whole, sparse tables as their picked rows; large dense tensors
    // as arrays of their own (in place where writable), everything else packed into the buffer
    const parts = hasParts(this.transport);
    const sizes = list.map((t, i) => (rowsOf[i] ? rowsOf[i]!.length * width[i] : t.size));
    const whole = list.map((t, i) => parts && !rowsOf[i] && t.size >= this.inPlaceMin);
    const writable = list.map((t) => writableValues(t));
    const own = list.map((_, i) => (whole[i] ? writable[i] : null));
    this.reducedInPlace = own.filter(Boolean).length;
    const packed = sizes.reduce((a, n, i) => a + (own[i] ? 0 : n), 0);
    const flat = this.sendBuffer(packed);
    const at = list.map(() => -1);
    const arrays: Float32Array[] = [];
    let o = 0;
    let run = 0;
    list.forEach((t, i) => {
      if (whole[i] && o > run) arrays.push(flat.subarray(run, o)); // close the packed run before it
      if (own[i]) arrays.push(own[i]!);
      else {
        at[i] = o;
        const rows = rowsOf[i];
        if (!rows) readValuesInto(t, flat, o);
        else {
          const v = readOnlyValues(t);
          const w = width[i];
          for (let k = 0; k < rows.length; k++) flat.set(v.subarray(rows[k] * w, (rows[k] + 1) * w), o + k * w);
        }
        o += sizes[i];
        if (whole[i]) arrays.push(flat.subarray(at[i], o));
      }
      if (whole[i]) run = o;
    });
    if (o > run) arrays.push(flat.subarray(run, o));
    let mean = flat;
    if (parts) await this.transport.allReduceParts(arrays, 'mean');
    else if (hasInPlace(this.transport)) await this.transport.allReduceInPlace(flat, 'mean');
    else mean = await this.transport.allReduce(flat, 'mean');
    const out = new Map<string, Tensor>();
    this.names.forEach((n, i) => {
      const t = list[i];
      if (own[i]) {
        out.set(n, t); // reduced in place
        return;
      }
      const rows = rowsOf[i];
      const values = mean.subarray(at[i], at[i] + sizes[i]);
      const mine = writable[i];
      if (!rows) {
        if (mine) {
          mine.set(values);
          out.set(n, t);
        } else {
          out.set(n, tensorFromValues(values, t.shape));
          t.dispose();
        }
        return;
      }
      // rows outside the union are zero on every rank, so only the picked rows change
      const w = width[i];
      const dst = mine ?? new Float32Array(t.size);
      for (let k = 0; k < rows.length; k++) dst.set(values.subarray(k * w, (k + 1) * w), rows[k] * w);
      if (mine) out.set(n, t);
      else {
        out.set(n, tensorFromValues(dst, t.shape));
        t.dispose();
      }
    });
    return out;
  }

  /** The all-reduce buffer for `n` values, kept across steps (grown by a quarter when too small). */
  private sendBuffer(n: number): Float32Array {
    if (!this.flat || this.flat.length < n) this.flat = new Float32Array(Math.ceil(n * 1.25));
    return this.flat.subarray(0, n);
  }

  /** One optimizer step over `microBatches` (one per accumulation step) at learning rate `lr`. */
  async run(microBatches: MicroBatch[], lr: number): Promise<StepResult> {
    const local = await this.localGrads(microBatches);
    const grads = await this.averageGrads(local.grads);
    return { losses: local.losses, total: local.total, ...applyUpdate(this.model, this.optimizer, grads, lr, this.gradClipNorm) };
  }
}

type LossAndGradsGrads = Partial<Record<GradKey, Tensor>>;

/**
 * Sets `mask[at + r]` to 1 for every row r of the `width`-wide table `v` with a nonzero entry.
 * Reads the values as bits, eight at a time: a row is nonzero when the OR of its values has a bit
 * set outside the sign (so -0 counts as zero, NaN as nonzero, as `!== 0` would say); twice as fast
 * as comparing floats, and the whole table is read every step.
 */
function markNonzeroRows(v: Float32Array, width: number, mask: Float32Array, at: number): void {
  const bits = new Int32Array(v.buffer, v.byteOffset, v.length);
  const rows = v.length / width;
  for (let r = 0; r < rows; r++) {
    let j = r * width;
    const end = j + width;
    let acc = 0;
    for (; j + 8 <= end; j += 8) acc |= bits[j] | bits[j + 1] | bits[j + 2] | bits[j + 3] | bits[j + 4] | bits[j + 5] | bits[j + 6] | bits[j + 7];
    for (; j < end; j++) acc |= bits[j];
    if ((acc & 0x7fffffff) !== 0) mask[at + r] = 1;
  }
}

/** Backends that reduce several arrays as one, in place (TcpTransport, MpiTransport). */
function hasParts(t: ArrayTransport): t is ArrayTransport & { allReduceParts(parts: readonly Float32Array[], op: 'mean'): Promise<void> } {
  return typeof (t as { allReduceParts?: unknown }).allReduceParts === 'function';
}

/** Backends that reduce in place: no copy of the gradients. */
function hasInPlace(t: ArrayTransport): t is ArrayTransport & { allReduceInPlace(d: Float32Array, op: 'mean'): Promise<void> } {
  return typeof (t as { allReduceInPlace?: unknown }).allReduceInPlace === 'function';
}

/** The accumulated loss input: batch-shaped outputs concatenated in micro-batch order, the rest from the last. */
function concatOutputs(outs: ModelOutput[]): ModelOutput {
  const last = outs[outs.length - 1];
  const m: ModelOutput = { ...last };
  const rec = m as unknown as Record<string, Tensor>;
  for (const key of ACCUMULATED) {
    if (!last[key]) continue;
    rec[key] = tf.concat(outs.map((o) => o[key] as Tensor), 0);
  }
  for (const key of ['logit_scale', 'logit_bias', 'dist_logit_scale'] as const) if (last[key]) rec[key] = tf.clone(last[key]!);
  return m;
}
