/**
 * OpenCLIP's `DistillClipLoss` (open_clip/loss.py): the ClipLoss contrastive term plus the
 * distillation term `(dist_loss(teacher_lpi, lpi) + dist_loss(teacher_lpt, lpt)) / 2`, where the
 * teacher logits come from the teacher's features and its own logit scale.
 */
import { tf } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import { ClipLoss } from './clip-loss.js';
import type { GatheredFeatures } from './clip-loss.js';
import { softTargetCrossEntropy } from './cross-entropy.js';
import type { LossAndGrads, ModelOutput } from './loss-api.js';

export class DistillClipLoss extends ClipLoss {
  override readonly name = 'DistillClipLoss';

  /** −Σ softmax(teacher)·log_softmax(student), mean over rows. */
  distLoss(teacherLogits: Tensor, studentLogits: Tensor): Tensor {
    return softTargetCrossEntropy(teacherLogits, studentLogits);
  }

  /** `{contrastive_loss, distill_loss}`; gathered (world size > 1) holds the student's and the teacher's gathered features. */
  forwardDict(
    image: Tensor,
    text: Tensor,
    logitScale: Tensor,
    distImage: Tensor,
    distText: Tensor,
    distLogitScale: Tensor,
    gathered?: { student: GatheredFeatures; teacher: GatheredFeatures } | null,
  ): Record<string, Tensor> {
    this.checkWorld(gathered?.student);
    const [lpi, lpt] = this.getLogits(image, text, logitScale, null, gathered?.student);
    const [dlpi, dlpt] = this.getLogits(distImage, distText, distLogitScale, null, gathered?.teacher);
    const contrastive = this.contrastive(lpi, lpt);
    const distill = tf.tidy(() => tf.div(tf.add(this.distLoss(dlpi, lpi), this.distLoss(dlpt, lpt)), 2));
    tf.dispose([lpi, lpt, dlpi, dlpt]);
    return { contrastive_loss: contrastive, distill_loss: distill };
  }

  override call(out: ModelOutput): Record<string, Tensor> {
    const [image, text] = this.checkFeatures(out);
    const [distImage, distText] = this.checkFeatures(out, 'dist_');
    return this.forwardDict(image, text, this.checkScalar(out, 'logit_scale'), distImage, distText, this.checkScalar(out, 'dist_logit_scale'));
  }

  /** Gradients flow to the student outputs only (the teacher runs without gradient, as in train.py). */
  override async lossAndGrads(out: ModelOutput): Promise<LossAndGrads> {
    const [image, text] = this.checkFeatures(out);
    const [distImage, distText] = this.checkFeatures(out, 'dist_');
    const scale = this.checkScalar(out, 'logit_scale');
    const distScale = this.checkScalar(out, 'dist_logit_scale');
    const r = await this.runClipFamily(image, text, [distImage, distText], [scale], (img, txt, gathered, extra, [s]) =>
      this.forwardDict(
        img,
        txt,
        s,
        distImage,
        distText,
        distScale,
        gathered ? { student: gathered, teacher: { image: extra[0], text: extra[1] } } : null,
      ),
    );
    return {
      losses: r.losses,
      total: r.total,
      grads: { image_features: r.image, text_features: r.text, logit_scale: r.differentiable[0] },
    };
  }
}
