/**
 * OpenCLIP's `CoCaLoss` (open_clip/loss.py): `clip_loss_weight · ClipLoss` plus
 * `caption_loss_weight · CrossEntropy(logits, labels, ignore_index=pad_id)` over the caption
 * tokens (a local term: caption logits are never gathered).
 */
import { tf } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import { ClipLoss } from './clip-loss.js';
import type { ClipLossOptions, GatheredFeatures } from './clip-loss.js';
import { crossEntropyIgnoring } from './cross-entropy.js';
import { checkTensor } from './loss-api.js';
import type { LossAndGrads, ModelOutput } from './loss-api.js';

export interface CoCaLossOptions extends ClipLossOptions {
  /** `--coca-caption-loss-weight` (OpenCLIP default 2.0). */
  captionLossWeight: number;
  /** `--coca-contrastive-loss-weight` (OpenCLIP default 1.0); 0 skips the contrastive term. */
  clipLossWeight: number;
  /** Caption positions with this label are ignored (0, the CLIP tokenizer's pad id). */
  padId?: number;
}

export class CoCaLoss extends ClipLoss {
  override readonly name = 'CoCaLoss';
  readonly captionLossWeight: number;
  readonly clipLossWeight: number;
  readonly padId: number;

  constructor(options: CoCaLossOptions) {
    super(options);
    for (const k of ['captionLossWeight', 'clipLossWeight'] as const) {
      if (typeof options[k] !== 'number' || !Number.isFinite(options[k])) throw new Error(`CoCaLoss: ${k} must be a finite number, got ${options[k]}`);
    }
    this.captionLossWeight = options.captionLossWeight;
    this.clipLossWeight = options.clipLossWeight;
    this.padId = options.padId ?? 0;
  }

  /** The caption term alone: mean CE over non-pad tokens, times caption_loss_weight. logits [B,T,V], labels int32 [B,T]. */
  captionLoss(logits: Tensor, labels: Tensor): Tensor {
    return tf.tidy(() => {
      const v = logits.shape[2]!;
      const ce = crossEntropyIgnoring(tf.reshape(logits, [-1, v]), tf.reshape(labels, [-1]), this.padId);
      return tf.mul(ce, this.captionLossWeight);
    });
  }

  /** `{contrastive_loss, caption_loss}` as differentiable scalars. */
  forwardDict(image: Tensor, text: Tensor, logits: Tensor, labels: Tensor, logitScale: Tensor, gathered?: GatheredFeatures | null): Record<string, Tensor> {
    const contrastive = this.clipLossWeight
      ? tf.tidy(() => tf.mul(this.forward(image, text, logitScale, null, gathered), this.clipLossWeight))
      : tf.scalar(0);
    return { contrastive_loss: contrastive, caption_loss: this.captionLoss(logits, labels) };
  }

  override call(out: ModelOutput): Record<string, Tensor> {
    const [image, text] = this.checkFeatures(out);
    const [logits, labels] = this.checkCaption(out);
    return this.forwardDict(image, text, logits, labels, this.checkScalar(out, 'logit_scale'));
  }

  override async lossAndGrads(out: ModelOutput): Promise<LossAndGrads> {
    const [image, text] = this.checkFeatures(out);
    const [logits, labels] = this.checkCaption(out);
    const scale = this.checkScalar(out, 'logit_scale');
    const r = await this.runClipFamily(image, text, [], [scale, logits], (img, txt, gathered, _extra, [s, lg]) =>
      this.forwardDict(img, txt, lg, labels, s, gathered),
    );
    return {
      losses: r.losses,
      total: r.total,
      grads: { image_features: r.image, text_features: r.text, logit_scale: r.differentiable[0], logits: r.differentiable[1] },
    };
  }

  private checkCaption(out: ModelOutput): [Tensor, Tensor] {
    const logits = checkTensor(this.name, 'logits', out.logits, 3);
    const labels = checkTensor(this.name, 'labels', out.labels, 2, [logits.shape[0]!, logits.shape[1]!]);
    if (labels.dtype !== 'int32') throw new Error(`${this.name}: 'labels' must be int32 token ids, got ${labels.dtype}`);
    const v = logits.shape[2]!;
    const ids = labels.dataSync();
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] !== this.padId && (ids[i] < 0 || ids[i] >= v)) {
        throw new Error(`${this.name}: 'labels' holds token id ${ids[i]} at flat position ${i}, outside the ${v} caption logits`);
      }
    }
    return [logits, labels];
  }
}
