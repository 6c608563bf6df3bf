/**
 * OpenCLIP's `MultimodalTransformer` (CoCa's text decoder, transformer.py): per layer a causal
 * self-attention block (`resblocks.<i>`) then a cross-attention block (`cross_attn.<i>`, ln_1 on the
 * text, `ln_1_kv` on the image embeddings, no mask), then `ln_final` and `text_projection` to the
 * vocabulary logits.
 */
import { tf, ops } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import type { MultimodalConfig } from '../config/model-config.js';
import { normal, ones, zeros } from '../init/initializers.js';
import { ResidualAttentionBlock } from '../towers/layers.js';
import type { BlockOptions } from '../towers/layers.js';
import { join } from '../towers/params.js';
import type { ParamStore } from '../towers/params.js';
import { checkpointed, paramsUnder } from '../towers/grad-checkpoint.js';

export interface MultimodalTransformerOptions {
  /** Output width of `text_projection` (the vocabulary size in CoCa). */
  outputDim: number;
  quickGelu: boolean;
}

/** Additive causal mask [n, n]: 0 on and below the diagonal, -inf above (build_causal_mask). */
export function causalMask(n: number): Tensor {
  return tf.tidy(() => {
    const data = new Float32Array(n * n);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) data[i * n + j] = -Infinity;
    return tf.tensor2d(data, [n, n]);
  });
}

export class MultimodalTransformer {
  readonly textProjection: tf.Variable;
  readonly resblocks: ResidualAttentionBlock[] = [];
  readonly crossAttn: ResidualAttentionBlock[] = [];
  readonly lnFinalWeight: tf.Variable;
  readonly lnFinalBias: tf.Variable;
  readonly width: number;
  readonly layers: number;
  readonly heads: number;
  readonly contextLength: number;
  readonly eps: number;
  /** OpenCLIP's `grad_checkpointing`: recompute each self- and cross-attention block in the backward pass. */
  gradCheckpointing = false;
  private mask: Tensor | null;
  private readonly store: ParamStore;

  constructor(store: ParamStore, readonly prefix: string, cfg: MultimodalConfig, o: MultimodalTransformerOptions) {
    this.store = store;
    this.width = cfg.width;
    this.layers = cfg.layers;
    this.heads = cfg.heads;
    this.contextLength = cfg.context_length;
    // OpenCLIP's decoder builder ignores act_kwargs / norm_kwargs: plain LayerNorm and (Quick)GELU.
    this.eps = 1e-5;
    const where = prefix || 'text_decoder';
    if (this.width % this.heads !== 0) throw new Error(`${where}: multimodal_cfg.width ${this.width} is not divisible by heads ${this.heads}`);
    const block: BlockOptions = {
      // OpenCLIP's decoder builder does not pass mlp_ratio: the Transformer default 4.0 applies.
      mlpRatio: 4.0,
      lsInitValue: cfg.ls_init_value,
      act: o.quickGelu ? 'quick_gelu' : 'gelu',
      eps: this.eps,
      blockType: 'default',
    };
    // A module's own parameters precede its children in PyTorch's state_dict order.
    this.textProjection = store.param(join(prefix, 'text_projection'), [this.width, o.outputDim], normal(this.width ** -0.5));
    for (let i = 0; i < this.layers; i++) {
      this.resblocks.push(new ResidualAttentionBlock(store, join(prefix, `resblocks.${i}`), this.width, this.heads, block));
    }
    for (let i = 0; i < this.layers; i++) {
      this.crossAttn.push(new ResidualAttentionBlock(store, join(prefix, `cross_attn.${i}`), this.width, this.heads, { ...block, crossAttention: true }));
    }
    this.lnFinalWeight = store.param(join(prefix, 'ln_final.weight'), [this.width], ones);
    this.lnFinalBias = store.param(join(prefix, 'ln_final.bias'), [this.width], zeros);
    this.initParameters(store);
    this.mask = tf.keep(causalMask(this.contextLength));
  }

  /** MultimodalTransformer.init_parameters: normal std on attention, MLP and projection weights. */
  private initParameters(store: ParamStore): void {
    const projStd = this.width ** -0.5 * (2 * this.layers) ** -0.5;
    const attnStd = this.width ** -0.5;
    const fcStd = (2 * this.width) ** -0.5;
    for (const blk of [...this.resblocks, ...this.crossAttn]) {
      const attn = blk.attn;
      if (!('inProjWeight' in attn) || !attn.inProjWeight) throw new Error(`${this.prefix}: decoder block without a packed in-projection`);
      store.reinit(attn.inProjWeight, normal(attnStd));
      store.reinit(attn.outProj.weight, normal(projStd));
      store.reinit(blk.cFc.weight, normal(fcStd));
      store.reinit(blk.cProj.weight, normal(projStd));
    }
  }

  private causal(n: number): Tensor {
    if (!this.mask) throw new Error(`${this.prefix || 'text_decoder'}: used after dispose()`);
    return n === this.contextLength ? this.mask : tf.slice(this.mask, [0, 0], [n, n]);
  }

  /**
   * Decoder hidden states after `ln_final` [B, T, width] for image embeddings [B, N, width] and
   * text token embeddings [B, T, width] (T ≤ context_length).
   */
  hidden(imageEmbs: Tensor, textEmbs: Tensor): Tensor {
    const t = textEmbs.shape[1]!;
    if (t > this.contextLength) {
      throw new Error(`${this.prefix || 'text_decoder'}: ${t} text positions exceed multimodal_cfg.context_length ${this.contextLength}`);
    }
    if (imageEmbs.shape[2] !== this.width || textEmbs.shape[2] !== this.width) {
      throw new Error(`${this.prefix || 'text_decoder'}: image embeddings [${imageEmbs.shape}] and text embeddings [${textEmbs.shape}] must have width ${this.width}`);
    }
    return tf.tidy(() => {
      const mask = this.causal(t);
      let x = textEmbs;
      for (let i = 0; i < this.layers; i++) {
        const self = this.resblocks[i]!;
        const cross = this.crossAttn[i]!;
        if (this.gradCheckpointing) {
          x = checkpointed((y, m) => self.apply(y, m), paramsUnder(this.store, join(this.prefix, `resblocks.${i}`)))(x, mask);
          x = checkpointed((y, kv) => cross.apply(y, null, kv), paramsUnder(this.store, join(this.prefix, `cross_attn.${i}`)))(x, imageEmbs);
        } else {
          x = self.apply(x, mask);
          x = cross.apply(x, null, imageEmbs);
        }
      }
      return ops.layerNorm(x, this.lnFinalWeight, this.lnFinalBias, this.eps);
    });
  }

  /** Caption logits [B, T, outputDim] (`x @ text_projection`). */
  apply(imageEmbs: Tensor, textEmbs: Tensor): Tensor {
    return tf.tidy(() => project(this.hidden(imageEmbs, textEmbs), this.textProjection));
  }

  /** Logits of the last position only [B, outputDim]: what one generation step needs. */
  lastLogits(imageEmbs: Tensor, textEmbs: Tensor): Tensor {
    return tf.tidy(() => {
      const h = this.hidden(imageEmbs, textEmbs);
      const [b, t, w] = h.shape as [number, number, number];
      const last = tf.reshape(tf.slice(h, [0, t - 1, 0], [b, 1, w]), [b, w]);
      return tf.matMul(last, this.textProjection);
    });
  }

  dispose(): void {
    this.mask?.dispose();
    this.mask = null;
  }
}

function project(h: Tensor, proj: Tensor): Tensor {
  const [b, t, w] = h.shape as [number, number, number];
  return tf.reshape(tf.matMul(tf.reshape(h, [b * t, w]), proj), [b, t, proj.shape[1]!]);
}
