/**
 * OpenCLIP's `SigLipLoss` (open_clip/loss.py): the pairwise sigmoid loss
 * `−Σ log σ(label · (logit_scale · image @ textᵀ + logit_bias)) / n`, labels +1 on the diagonal and
 * −1 elsewhere (all −1 for the negatives-only blocks of other ranks), with the four ways of
 * seeing other ranks' text features (`--loss-dist-impl`): `bidir` (default), `shift`, `reduce`, `gather`.
 */
import { tf } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import type { Collective } from './collective.js';
import { allGatherWithGrad, allReduceWithGrad, exchangeBidirWithGrad, exchangeWithGrad } from './distributed-grad.js';
import { checkTensor, resolveWorld, valueAndGradsOf } from './loss-api.js';
import type { LossAndGrads, ModelOutput, OpenClipLoss, WorldOptions } from './loss-api.js';

export const SIGLIP_DIST_IMPLS = ['bidir', 'shift', 'reduce', 'gather'] as const;
export type SigLipDistImpl = (typeof SIGLIP_DIST_IMPLS)[number];

export interface SigLipLossOptions extends WorldOptions {
  cacheLabels?: boolean;
  /** How other ranks' text features are visited; default 'bidir' as in OpenCLIP. */
  distImpl?: SigLipDistImpl | null;
}

export class SigLipLoss implements OpenClipLoss {
  readonly name = 'SigLipLoss';
  readonly cacheLabels: boolean;
  readonly distImpl: SigLipDistImpl;
  readonly rank: number;
  readonly worldSize: number;
  readonly collective: Collective;

  constructor(options: SigLipLossOptions = {}) {
    const world = resolveWorld('SigLipLoss', options);
    this.collective = world.collective;
    this.rank = world.rank;
    this.worldSize = world.worldSize;
    this.cacheLabels = options.cacheLabels ?? false;
    const impl = options.distImpl ?? 'bidir';
    if (!(SIGLIP_DIST_IMPLS as readonly string[]).includes(impl)) {
      throw new Error(`SigLipLoss: unknown distImpl '${impl}' (--loss-dist-impl: choose one of ${SIGLIP_DIST_IMPLS.join(', ')})`);
    }
    this.distImpl = impl;
  }

  /** +1 on the diagonal and −1 elsewhere, or −1 everywhere when `negativeOnly`. */
  getGroundTruth(numLogits: number, negativeOnly = false): Tensor {
    return tf.tidy(() => {
      const minusOnes = tf.fill([numLogits, numLogits], -1);
      return negativeOnly ? minusOnes : tf.add(tf.mul(tf.eye(numLogits), 2), minusOnes);
    });
  }

  getLogits(image: Tensor, text: Tensor, logitScale: Tensor, logitBias?: Tensor | null): Tensor {
    return tf.tidy(() => {
      const logits = tf.matMul(tf.mul(logitScale, image), text, false, true);
      return logitBias ? tf.add(logits, logitBias) : logits;
    });
  }

  /** One block of the loss (OpenCLIP's `_loss`): this rank's images against one set of texts. */
  pairLoss(image: Tensor, text: Tensor, logitScale: Tensor, logitBias?: Tensor | null, negativeOnly = false): Tensor {
    return tf.tidy(() => {
      const n = image.shape[0]!;
      const logits = this.getLogits(image, text, logitScale, logitBias);
      const labels = this.getGroundTruth(n, negativeOnly);
      // −log σ(z) = softplus(−z). (Not tf.logSigmoid: its gradient reads its input outside the
      // tape's saved tensors, which a surrounding tidy has already disposed.)
      return tf.div(tf.sum(tf.softplus(tf.neg(tf.mul(labels, logits)))), n);
    });
  }

  /** The world-size-1 loss as a differentiable scalar (other ranks' blocks need lossAndGrads). */
  forward(image: Tensor, text: Tensor, logitScale: Tensor, logitBias?: Tensor | null): Tensor {
    if (this.worldSize > 1) {
      throw new Error(`SigLipLoss: on a world of size ${this.worldSize} the text features of other ranks are exchanged asynchronously: use lossAndGrads()`);
    }
    return this.pairLoss(image, text, logitScale, logitBias);
  }

  call(out: ModelOutput): Record<string, Tensor> {
    const [image, text, scale] = this.check(out);
    return { contrastive_loss: this.forward(image, text, scale, out.logit_bias ?? null) };
  }

  async lossAndGrads(out: ModelOutput): Promise<LossAndGrads> {
    const [image, text, scale] = this.check(out);
    const bias = out.logit_bias ?? null;
    const own = bias ? [scale, bias] : [scale];
    const grads = (r: { losses: Record<string, Tensor>; total: Tensor; gImage: Tensor; gText: Tensor; gOwn: Tensor[] }): LossAndGrads => {
      const g: LossAndGrads['grads'] = { image_features: r.gImage, text_features: r.gText, logit_scale: r.gOwn[0] };
      if (bias) g.logit_bias = r.gOwn[1];
      return { losses: r.losses, total: r.total, grads: g };
    };
    if (this.worldSize === 1) {
      const r = valueAndGradsOf((img, txt, s, b) => ({ contrastive_loss: this.pairLoss(img, txt, s, b ?? null) }), [image, text, ...own]);
      return grads({ losses: r.losses, total: r.total, gImage: r.grads[0], gText: r.grads[1], gOwn: r.grads.slice(2) });
    }
    const c = this.collective;
    const right = (this.rank + 1) % this.worldSize;
    const left = (this.rank - 1 + this.worldSize) % this.worldSize;

    // Forward: collect the text blocks this rank scores as negatives, remembering how to send
    // each block's gradient back to where it came from.
    const blocks: Tensor[] = [];
    /** Blocks whose loss term is multiplied by 0 (OpenCLIP's `float(i != rank)` for reduce/gather). */
    const weights: number[] = [];
    let backward: (blockGrads: Tensor[]) => Promise<Tensor[]>;
    const owned: Tensor[] = [];
    if (this.distImpl === 'bidir' || this.distImpl === 'shift') {
      const rounds: { bidir: boolean; back: (g: Tensor[]) => Promise<Tensor[]> }[] = [];
      if (this.distImpl === 'bidir') {
        let toLeft = text;
        let toRight = text;
        const numBidir = Math.floor((this.worldSize - 1) / 2);
        const remainder = (this.worldSize - 1) % 2;
        for (let i = 0; i < numBidir; i++) {
          const ex = await exchangeBidirWithGrad(c, left, right, toLeft, toRight);
          blocks.push(...ex.value);
          weights.push(1, 1);
          rounds.push({ bidir: true, back: (g) => ex.backward([g[0], g[1]]) });
          [toLeft, toRight] = ex.value;
        }
        if (remainder) {
          const ex = await exchangeWithGrad(c, left, right, toRight);
          blocks.push(ex.value);
          weights.push(1);
          rounds.push({ bidir: false, back: async (g) => [await ex.backward(g[0])] });
        }
      } else {
        let toRight = text;
        for (let i = 0; i < this.worldSize - 1; i++) {
          const ex = await exchangeWithGrad(c, left, right, toRight);
          blocks.push(ex.value);
          weights.push(1);
          rounds.push({ bidir: false, back: async (g) => [await ex.backward(g[0])] });
          toRight = ex.value;
        }
      }
      backward = async (blockGrads) => {
        // Reverse-mode through the chain of exchanges: what a rank forwarded in round i+1 was
        // received in round i, so its returned gradient joins that block's own gradient.
        // `carry` holds the gradient of the tensors sent in the round after the current one:
        // bidir [toLeft, toRight], shift / remainder [toRight].
        let carry: { toLeft: Tensor | null; toRight: Tensor | null } = { toLeft: null, toRight: null };
        let b = blockGrads.length;
        const addTo = (g: Tensor, extra: Tensor | null) => (extra ? tf.add(g, extra) : g);
        for (let i = rounds.length - 1; i >= 0; i--) {
          const round = rounds[i];
          const next: typeof carry = { toLeft: null, toRight: null };
          if (round.bidir) {
            b -= 2;
            // value = [fromRight, fromLeft]; fromRight is forwarded left, fromLeft forwarded right.
            const gFromRight = addTo(blockGrads[b], carry.toLeft);
            const gFromLeft = addTo(blockGrads[b + 1], carry.toRight);
            const [gToLeft, gToRight] = await round.back([gFromRight, gFromLeft]);
            owned.push(gFromRight, gFromLeft, gToLeft, gToRight);
            next.toLeft = gToLeft;
            next.toRight = gToRight;
          } else {
            b -= 1;
            // The received block is forwarded to the right in the next round.
            const gFrom = addTo(blockGrads[b], carry.toRight);
            const [gToRight] = await round.back([gFrom]);
            owned.push(gFrom, gToRight);
            // In bidir, the one-way remainder round sends the previous round's fromLeft (the toRight chain).
            next.toRight = gToRight;
          }
          carry = next;
        }
        // Round 0 sent this rank's own text features both ways.
        return [carry.toLeft, carry.toRight].filter((t): t is Tensor => t !== null);
      };
    } else if (this.distImpl === 'reduce') {
      const ex: Awaited<ReturnType<typeof allReduceWithGrad>>[] = [];
      for (let i = 0; i < this.worldSize; i++) {
        const masked = tf.mul(text, i === this.rank ? 1 : 0);
        ex.push(await allReduceWithGrad(c, masked));
        masked.dispose();
        blocks.push(ex[i].value);
        weights.push(i !== this.rank ? 1 : 0);
      }
      backward = async (blockGrads) => {
        const out: Tensor[] = [];
        for (let i = 0; i < this.worldSize; i++) {
          const g = await ex[i].backward(blockGrads[i]);
          // d(text · [rank == i]) / d text
          out.push(tf.mul(g, i === this.rank ? 1 : 0));
          g.dispose();
        }
        return out;
      };
    } else {
      const all = await allGatherWithGrad(c, text);
      const n = text.shape[0]!;
      for (let i = 0; i < this.worldSize; i++) {
        blocks.push(tf.slice(all.value, i * n, n));
        weights.push(i !== this.rank ? 1 : 0);
      }
      owned.push(all.value);
      backward = async (blockGrads) => {
        const joined = tf.concat(blockGrads, 0);
        const g = await all.backward(joined);
        joined.dispose();
        return [g];
      };
    }

    // Local loss and gradients for every block at once.
    const numBlocks = blocks.length;
    const r = valueAndGradsOf(
      (img, txt, ...rest) => {
        const recv = rest.slice(0, numBlocks);
        const [s, b] = rest.slice(numBlocks);
        let loss = this.pairLoss(img, txt, s, b ?? null);
        recv.forEach((block, i) => {
          const term = this.pairLoss(img, block, s, b ?? null, true);
          loss = tf.add(loss, weights[i] === 1 ? term : tf.mul(term, weights[i]));
        });
        return { contrastive_loss: loss };
      },
      [image, text, ...blocks, ...own],
    );
    const blockGrads = r.grads.slice(2, 2 + numBlocks);
    const back = await backward(blockGrads);
    const gText = tf.tidy(() => (back.length ? tf.addN([r.grads[1], ...back]) : tf.clone(r.grads[1])));
    tf.dispose([...blocks, ...blockGrads, ...back, ...owned, r.grads[1]]);
    return grads({ losses: r.losses, total: r.total, gImage: r.grads[0], gText, gOwn: r.grads.slice(2 + numBlocks) });
  }

  dispose(): void {}

  private check(out: ModelOutput): [Tensor, Tensor, Tensor] {
    const image = checkTensor(this.name, 'image_features', out.image_features, 2);
    const text = checkTensor(this.name, 'text_features', out.text_features, 2, [image.shape[0]!, image.shape[1]!]);
    const scale = out.logit_scale;
    if (!scale) throw new Error(`${this.name}: missing 'logit_scale'`);
    if (scale.size !== 1) throw new Error(`${this.name}: 'logit_scale' must be a scalar, got shape [${scale.shape}]`);
    if (out.logit_bias && out.logit_bias.size !== 1) throw new Error(`${this.name}: 'logit_bias' must be a scalar, got shape [${out.logit_bias.shape}]`);
    return [image, text, scale];
  }
}
