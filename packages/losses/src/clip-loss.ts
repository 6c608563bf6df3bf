/**
 * OpenCLIP's `ClipLoss` (open_clip/loss.py): symmetric InfoNCE over
 * `logit_scale · image @ textᵀ (+ logit_bias)`, with `gather_features` semantics across ranks
 * (`local_loss`, `gather_with_grad`) and label caching.
 */
import { tf } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import type { Collective } from './collective.js';
import { crossEntropy } from './cross-entropy.js';
import { checkTensor, resolveWorld, valueAndGradsOf } from './loss-api.js';
import type { LossAndGrads, ModelOutput, OpenClipLoss, WorldOptions } from './loss-api.js';

export interface ClipLossOptions extends WorldOptions {
  /** Logits of local rows against all columns, labels offset by rank (`--local-loss`). */
  localLoss?: boolean;
  /** Gather features with gradient (`--gather-with-grad`). */
  gatherWithGrad?: boolean;
  /** Keep the label tensor between calls (OpenCLIP's `cache_labels`, always on in training). */
  cacheLabels?: boolean;
}

/** The features every rank contributed (rank order), already combined as gather_features returns them. */
export interface GatheredFeatures {
  image: Tensor;
  text: Tensor;
}

/** What a loss of the ClipLoss family computes from this rank's features and the gathered ones. */
export type ClipFamilyLossFn = (
  image: Tensor,
  text: Tensor,
  gathered: GatheredFeatures | null,
  extraGathered: Tensor[],
  differentiable: Tensor[],
) => Record<string, Tensor>;

export class ClipLoss implements OpenClipLoss {
  readonly name: string = 'ClipLoss';
  readonly localLoss: boolean;
  readonly gatherWithGrad: boolean;
  readonly cacheLabels: boolean;
  readonly rank: number;
  readonly worldSize: number;
  readonly collective: Collective;
  private labels: Tensor | null = null;
  private prevNumLogits = 0;

  constructor(options: ClipLossOptions = {}) {
    const world = resolveWorld(new.target.name, options);
    this.collective = world.collective;
    this.rank = world.rank;
    this.worldSize = world.worldSize;
    this.localLoss = options.localLoss ?? false;
    this.gatherWithGrad = options.gatherWithGrad ?? false;
    this.cacheLabels = options.cacheLabels ?? false;
  }

  /** Target classes: arange(numLogits), offset by numLogits·rank with local loss on >1 ranks. Caller owns it. */
  getGroundTruth(numLogits: number): Tensor {
    if (this.labels && this.prevNumLogits === numLogits) return tf.clone(this.labels);
    const offset = this.worldSize > 1 && this.localLoss ? numLogits * this.rank : 0;
    const labels = tf.range(offset, offset + numLogits, 1, 'int32');
    if (this.cacheLabels) {
      this.labels?.dispose();
      this.labels = tf.keep(tf.clone(labels));
      this.prevNumLogits = numLogits;
    }
    return labels;
  }

  /**
   * `[logits_per_image, logits_per_text]`. With `gathered` (world size > 1): local rows against
   * all columns under local loss, else the full global matrix and its transpose.
   */
  getLogits(image: Tensor, text: Tensor, logitScale: Tensor, logitBias?: Tensor | null, gathered?: GatheredFeatures | null): [Tensor, Tensor] {
    return tf.tidy(() => {
      let perImage: Tensor;
      let perText: Tensor;
      if (gathered && this.worldSize > 1) {
        if (this.localLoss) {
          perImage = tf.matMul(tf.mul(logitScale, image), gathered.text, false, true);
          perText = tf.matMul(tf.mul(logitScale, text), gathered.image, false, true);
        } else {
          perImage = tf.matMul(tf.mul(logitScale, gathered.image), gathered.text, false, true);
          perText = tf.transpose(perImage);
        }
      } else {
        // OpenCLIP multiplies twice (scale·text @ imageᵀ); the transpose is the same matrix up to
        // float rounding and saves a third of the matmul work forward and backward.
        perImage = tf.matMul(tf.mul(logitScale, image), text, false, true);
        perText = tf.transpose(perImage);
      }
      if (logitBias) {
        perImage = tf.add(perImage, logitBias);
        perText = tf.add(perText, logitBias);
      }
      return [perImage, perText] as [Tensor, Tensor];
    });
  }

  /** (CE(logits_per_image, labels) + CE(logits_per_text, labels)) / 2. */
  contrastive(perImage: Tensor, perText: Tensor): Tensor {
    return tf.tidy(() => {
      const labels = this.getGroundTruth(perImage.shape[0]!);
      return tf.div(tf.add(crossEntropy(perImage, labels), crossEntropy(perText, labels)), 2);
    });
  }

  /**
   * The loss as a differentiable scalar. On more than one rank, pass the all-gathered features
   * (see `gatherFeatures`); lossAndGrads does this for you.
   */
  forward(image: Tensor, text: Tensor, logitScale: Tensor, logitBias?: Tensor | null, gathered?: GatheredFeatures | null): Tensor {
    this.checkWorld(gathered);
    return tf.tidy(() => {
      const [perImage, perText] = this.getLogits(image, text, logitScale, logitBias, gathered);
      return this.contrastive(perImage, perText);
    });
  }

  call(out: ModelOutput): Record<string, Tensor> {
    const [image, text] = this.checkFeatures(out);
    return { contrastive_loss: this.forward(image, text, this.checkScalar(out, 'logit_scale'), out.logit_bias ?? null) };
  }

  async lossAndGrads(out: ModelOutput): Promise<LossAndGrads> {
    const [image, text] = this.checkFeatures(out);
    const scale = this.checkScalar(out, 'logit_scale');
    const bias = out.logit_bias ?? null;
    const diff = bias ? [scale, bias] : [scale];
    const r = await this.runClipFamily(image, text, [], diff, (img, txt, gathered, _extra, [s, b]) => ({
      contrastive_loss: this.forward(img, txt, s, b ?? null, gathered),
    }));
    const grads: LossAndGrads['grads'] = { image_features: r.image, text_features: r.text, logit_scale: r.differentiable[0] };
    if (bias) grads.logit_bias = r.differentiable[1];
    return { losses: r.losses, total: r.total, grads };
  }

  dispose(): void {
    this.labels?.dispose();
    this.labels = null;
    this.prevNumLogits = 0;
  }

  /**
   * gather_features: what the logits see on a world of size > 1, given every rank's features
   * as data. Without gather-with-grad and without local loss, this rank's slot is its own
   * (differentiable) features; with local loss the gathered data is used as is.
   */
  gatherFeatures(image: Tensor, text: Tensor, allImage: Tensor, allText: Tensor): GatheredFeatures {
    if (this.gatherWithGrad || this.localLoss) return { image: allImage, text: allText };
    return { image: this.substitute(allImage, image), text: this.substitute(allText, text) };
  }

  private substitute(all: Tensor, mine: Tensor): Tensor {
    return tf.tidy(() => {
      const n = mine.shape[0]!;
      const parts: Tensor[] = [];
      if (this.rank > 0) parts.push(tf.slice(all, 0, this.rank * n));
      parts.push(mine);
      const after = all.shape[0]! - (this.rank + 1) * n;
      if (after > 0) parts.push(tf.slice(all, (this.rank + 1) * n, after));
      return parts.length === 1 ? tf.clone(mine) : tf.concat(parts, 0);
    });
  }

  /**
   * The distributed forward/backward shared by ClipLoss, CoCaLoss and DistillClipLoss: gather
   * this rank's features (and `extra`, gathered without gradient), compute the loss dict and its
   * local gradients, then — with gather-with-grad — all-reduce the gradient of the gathered
   * features and add this rank's rows to the gradient of its own features.
   */
  protected async runClipFamily(
    image: Tensor,
    text: Tensor,
    extra: Tensor[],
    differentiable: Tensor[],
    lossFn: ClipFamilyLossFn,
  ): Promise<{ losses: Record<string, Tensor>; total: Tensor; image: Tensor; text: Tensor; differentiable: Tensor[] }> {
    if (this.worldSize === 1) {
      const r = valueAndGradsOf((img, txt, ...d) => lossFn(img, txt, null, extra, d), [image, text, ...differentiable]);
      return { losses: r.losses, total: r.total, image: r.grads[0], text: r.grads[1], differentiable: r.grads.slice(2) };
    }
    const c = this.collective;
    const n = image.shape[0]!;
    const allImage = await c.allGather(image);
    const allText = await c.allGather(text);
    const extraAll: Tensor[] = [];
    for (const t of extra) extraAll.push(await c.allGather(t));
    try {
      if (!this.gatherWithGrad) {
        const r = valueAndGradsOf(
          (img, txt, ...d) => lossFn(img, txt, this.gatherFeatures(img, txt, allImage, allText), extraAll, d),
          [image, text, ...differentiable],
        );
        return { losses: r.losses, total: r.total, image: r.grads[0], text: r.grads[1], differentiable: r.grads.slice(2) };
      }
      const r = valueAndGradsOf(
        (img, txt, aImg, aTxt, ...d) => lossFn(img, txt, { image: aImg, text: aTxt }, extraAll, d),
        [image, text, allImage, allText, ...differentiable],
      );
      const [gImage, gText, gAllImage, gAllText] = r.grads;
      const sumImage = await c.allReduce(gAllImage, 'sum');
      const sumText = await c.allReduce(gAllText, 'sum');
      const out = tf.tidy(() => [
        tf.add(gImage, tf.slice(sumImage, this.rank * n, n)),
        tf.add(gText, tf.slice(sumText, this.rank * n, n)),
      ]);
      tf.dispose([gImage, gText, gAllImage, gAllText, sumImage, sumText]);
      return { losses: r.losses, total: r.total, image: out[0], text: out[1], differentiable: r.grads.slice(4) };
    } finally {
      tf.dispose([allImage, allText, ...extraAll]);
    }
  }

  protected checkWorld(gathered: GatheredFeatures | null | undefined): void {
    if (this.worldSize > 1 && !gathered) {
      throw new Error(`${this.name}: on a world of size ${this.worldSize} the features of every rank are needed: use lossAndGrads() (or pass the gathered features)`);
    }
  }

  protected checkFeatures(out: ModelOutput, prefix = ''): [Tensor, Tensor] {
    const image = checkTensor(this.name, `${prefix}image_features`, out[`${prefix}image_features` as 'image_features'], 2);
    const text = checkTensor(this.name, `${prefix}text_features`, out[`${prefix}text_features` as 'text_features'], 2);
    if (image.shape[1] !== text.shape[1]) {
      throw new Error(`${this.name}: ${prefix}image_features [${image.shape}] and ${prefix}text_features [${text.shape}] differ in feature size`);
    }
    return [image, text];
  }

  protected checkScalar(out: ModelOutput, key: 'logit_scale' | 'dist_logit_scale'): Tensor {
    const t = out[key];
    if (!t) throw new Error(`${this.name}: missing '${key}'`);
    if (t.size !== 1) throw new Error(`${this.name}: '${key}' must be a scalar, got shape [${t.shape}]`);
    return t;
  }
}
