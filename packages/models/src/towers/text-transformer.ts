/**
 * OpenCLIP's `TextTransformer` (transformer.py): token + position embedding, optional appended
 * CLS embedding (CoCa's `embed_cls`, with the legacy key-padding mask), causal mask unless
 * `no_causal_mask`, the block stack, ln_final, pooling (argmax/first/last/eos/none) and the text
 * projection (a [W,E] matrix, or nn.Linear with `proj_bias`). CLIP keeps these keys at top level,
 * CustomTextCLIP and CoCa under `text.`.
 */
import { tf } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import type { TextConfig } from '../config/model-config.js';
import { normal, zeros } from '../init/initializers.js';
import { LayerNorm, Linear, Transformer, activationFor, initTransformerLikeText, blockOptionsFromConfig } from './layers.js';
import type { ActivationName } from './layers.js';
import { join } from './params.js';
import type { ParamStore } from './params.js';
import type { ActivationHook } from './vision-transformer.js';

export interface TextTowerOptions {
  /** The embedding (output) dimension; 0 or proj_type 'none' means no projection. */
  outputDim: number;
  quickGelu: boolean;
}

/** Token ids as a tensor plus their values on the host (for pooling indices and padding masks). */
function hostTokens(tokens: Tensor): { ids: Int32Array; b: number; l: number } {
  if (tokens.rank !== 2) throw new Error(`text tower: expected tokens [B, context_length], got shape [${tokens.shape}]`);
  if (tokens.dtype !== 'int32') throw new Error(`text tower: expected int32 tokens, got ${tokens.dtype}`);
  return { ids: tokens.dataSync() as Int32Array, b: tokens.shape[0]!, l: tokens.shape[1]! };
}

/** Row index per batch item for `text_global_pool` (argmax: first maximal id; eos: first eos_id, else 0). */
export function textPoolIndices(ids: Int32Array, b: number, l: number, poolType: TextConfig['pool_type'], eosId: number): Int32Array {
  const out = new Int32Array(b);
  for (let i = 0; i < b; i++) {
    const row = ids.subarray(i * l, (i + 1) * l);
    let idx = 0;
    if (poolType === 'last') idx = l - 1;
    else if (poolType === 'argmax') {
      for (let j = 1; j < l; j++) if (row[j] > row[idx]) idx = j;
    } else if (poolType === 'eos') {
      const j = row.indexOf(eosId);
      idx = j < 0 ? 0 : j;
    }
    out[i] = idx;
  }
  return out;
}

export class TextTransformer {
  readonly contextLength: number;
  readonly numPos: number;
  readonly vocabSize: number;
  readonly width: number;
  readonly heads: number;
  readonly outputDim: number;
  readonly act: ActivationName;
  readonly eps: number;
  readonly padId: number;
  readonly eosId: number;
  readonly poolType: TextConfig['pool_type'];
  readonly outputTokens: boolean;
  readonly noCausalMask: boolean;

  readonly clsEmb: tf.Variable | null = null;
  readonly positionalEmbedding: tf.Variable;
  /** [W, E] projection (proj_bias false). */
  readonly textProjection: tf.Variable | null = null;
  /** nn.Linear projection (proj_bias true). */
  readonly textProjectionLinear: Linear | null = null;
  readonly tokenEmbedding: tf.Variable;
  readonly transformer: Transformer;
  readonly lnFinal: LayerNorm;

  constructor(store: ParamStore, readonly prefix: string, readonly cfg: TextConfig, o: TextTowerOptions) {
    this.contextLength = cfg.context_length;
    this.numPos = cfg.context_length + (cfg.embed_cls ? 1 : 0);
    this.vocabSize = cfg.vocab_size;
    this.width = cfg.width;
    this.heads = cfg.heads;
    this.outputDim = o.outputDim;
    this.act = activationFor(o.quickGelu, cfg.act_kwargs, `${prefix || 'text'} (text_cfg)`);
    this.eps = (cfg.norm_kwargs?.eps as number | undefined) ?? 1e-5;
    this.padId = cfg.pad_id;
    this.eosId = cfg.eos_id;
    this.poolType = cfg.pool_type;
    this.outputTokens = cfg.output_tokens;
    this.noCausalMask = cfg.no_causal_mask;
    if (cfg.width % cfg.heads !== 0) throw new Error(`${prefix || 'text'}: width ${cfg.width} is not divisible by ${cfg.heads} heads`);

    const w = cfg.width;
    const project = cfg.proj_type !== 'none' && o.outputDim > 0;
    // Registration order follows PyTorch's state_dict: own parameters, then submodules.
    if (cfg.embed_cls) this.clsEmb = store.param(join(prefix, 'cls_emb'), [w], normal(0.01));
    this.positionalEmbedding = store.param(join(prefix, 'positional_embedding'), [this.numPos, w], normal(0.01));
    if (project && !cfg.proj_bias) this.textProjection = store.param(join(prefix, 'text_projection'), [w, o.outputDim], normal(w ** -0.5));
    this.tokenEmbedding = store.param(join(prefix, 'token_embedding.weight'), [cfg.vocab_size, w], normal(0.02));
    this.transformer = new Transformer(store, join(prefix, 'transformer'), w, cfg.layers, cfg.heads, blockOptionsFromConfig(cfg, this.act, this.eps));
    initTransformerLikeText(store, this.transformer);
    this.lnFinal = new LayerNorm(store, join(prefix, 'ln_final'), w, this.eps);
    if (project && cfg.proj_bias) {
      this.textProjectionLinear = new Linear(store, join(prefix, 'text_projection'), w, o.outputDim, true, { weight: normal(w ** -0.5), bias: zeros });
    }
  }

  /** The additive attention mask for `t` positions: causal (unless no_causal_mask) plus, with embed_cls, the legacy key-padding mask. */
  attentionMask(ids: Int32Array, b: number, l: number): Tensor | null {
    const t = l + (this.clsEmb ? 1 : 0);
    if (!this.clsEmb) {
      if (this.noCausalMask) return null;
      const m = new Float32Array(t * t);
      for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) m[i * t + j] = -Infinity;
      return tf.tensor2d(m, [t, t]);
    }
    // valid key j: j == 0, else token j-1 is not pad (OpenCLIP's cat([ones(B,1), tokens != pad]) layout).
    const m = new Float32Array(b * t * t);
    for (let n = 0; n < b; n++) {
      for (let i = 0; i < t; i++) {
        const row = (n * t + i) * t;
        for (let j = 0; j < t; j++) {
          const causalBlocked = !this.noCausalMask && j > i;
          const padBlocked = j > 0 && ids[n * l + j - 1] === this.padId;
          if (causalBlocked || padBlocked) m[row + j] = -Infinity;
        }
      }
    }
    return tf.tensor4d(m, [b, 1, t, t]);
  }

  /** Embedded tokens (+ cls) with positions, and the attention mask. */
  embed(tokens: Tensor): { x: Tensor; mask: Tensor | null } {
    const { ids, b, l } = hostTokens(tokens);
    if (l > this.contextLength) throw new Error(`${this.prefix || 'text'}: ${l} tokens per row exceed context_length ${this.contextLength}`);
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] < 0 || ids[i] >= this.vocabSize) throw new Error(`${this.prefix || 'text'}: token id ${ids[i]} (row ${Math.floor(i / l)}) is outside the vocabulary [0, ${this.vocabSize})`);
    }
    const x = tf.tidy(() => {
      let e: Tensor = tf.gather(this.tokenEmbedding, tokens);
      let t = l;
      if (this.clsEmb) {
        e = tf.concat([e, tf.tile(tf.reshape(this.clsEmb, [1, 1, this.width]), [b, 1, 1])], 1);
        t += 1;
      }
      const pos: Tensor = t === this.numPos ? this.positionalEmbedding : tf.slice(this.positionalEmbedding, [0, 0], [t, -1]);
      return tf.add(e, pos);
    });
    return { x, mask: this.attentionMask(ids, b, l) };
  }

  private project(pooled: Tensor): Tensor {
    if (this.textProjectionLinear) return this.textProjectionLinear.apply(pooled);
    if (!this.textProjection) return pooled;
    if (pooled.rank === 2) return tf.matMul(pooled, this.textProjection);
    const lead = pooled.shape.slice(0, -1);
    return tf.reshape(tf.matMul(tf.reshape(pooled, [-1, this.width]), this.textProjection), [...lead, this.outputDim]);
  }

  /** Projected pooled features and the token features (ln_final'd, or pre-ln_final without the cls slot when embed_cls). */
  forwardWithTokens(tokens: Tensor, hook?: ActivationHook): { pooled: Tensor; tokens: Tensor } {
    const { ids, b, l } = hostTokens(tokens);
    return tf.tidy(() => {
      const { x: x0, mask } = this.embed(tokens);
      hook?.('transformer_in', x0);
      let x = this.transformer.apply(x0, mask, hook ? (i, h) => hook(`block${i}_out`, h) : undefined);
      let pooled: Tensor;
      let toks: Tensor;
      if (this.clsEmb) {
        const t = x.shape[1]!;
        pooled = this.lnFinal.apply(tf.squeeze(tf.slice(x, [0, t - 1, 0], [-1, 1, -1]), [1]));
        toks = tf.slice(x, [0, 0, 0], [-1, t - 1, -1]);
      } else {
        x = this.lnFinal.apply(x);
        hook?.('ln_final_out', x);
        toks = x;
        if (this.poolType === 'none') pooled = x;
        else {
          const idx = textPoolIndices(ids, b, l, this.poolType, this.eosId);
          const flatIdx = tf.tensor1d(Int32Array.from(idx, (v, i) => i * l + v), 'int32');
          pooled = tf.gather(tf.reshape(x, [b * l, this.width]), flatIdx);
        }
      }
      return { pooled: this.project(pooled), tokens: toks };
    });
  }

  /** Text features [B, E] (OpenCLIP's encode_text without normalisation). */
  forward(tokens: Tensor, hook?: ActivationHook): Tensor {
    return tf.tidy(() => this.forwardWithTokens(tokens, hook).pooled);
  }
}
