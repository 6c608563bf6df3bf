/**
 * OpenCLIP's transformer building blocks (`transformer.py`): LayerNorm, LayerScale,
 * nn.MultiheadAttention (packed or separate q/k/v projections), the custom `Attention` of
 * CustomResidualAttentionBlock (qk_norm, scaled cosine, head scale, inner norm),
 * ResidualAttentionBlock (optionally cross-attention) and the Transformer stack.
 */
import { tf, ops } from '@openclip/engine';
import type { Tensor, Variable } from '@openclip/engine';
import { constant, normal, ones, torchDefaultBias, torchDefaultWeight, xavierUniform, zeros } from '../init/initializers.js';
import { join } from './params.js';
import type { ParamStore } from './params.js';
import type { InitSpec } from '../init/initializers.js';
import { checkpointed, paramsUnder } from './grad-checkpoint.js';

// Activations

export type ActivationName = 'gelu' | 'gelu_tanh' | 'quick_gelu';

/** The MLP activation OpenCLIP would build from `quick_gelu` and `act_kwargs`. */
export function activationFor(quickGelu: boolean, actKwargs: Record<string, unknown> | null, where: string): ActivationName {
  const approximate = actKwargs?.approximate;
  if (quickGelu) {
    if (approximate !== undefined) throw new Error(`${where}: act_kwargs.approximate cannot be combined with quick_gelu (QuickGELU takes no arguments)`);
    return 'quick_gelu';
  }
  return approximate === 'tanh' ? 'gelu_tanh' : 'gelu';
}

export function activate(x: Tensor, act: ActivationName): Tensor {
  if (act === 'quick_gelu') return ops.quickGelu(x);
  if (act === 'gelu') return ops.gelu(x);
  return tf.tidy(() => {
    const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  });
}

// LayerNorm and LayerScale

export class LayerNorm {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  constructor(store: ParamStore, prefix: string, dim: number, readonly eps = 1e-5) {
    this.weight = store.param(join(prefix, 'weight'), [dim], ones);
    this.bias = store.param(join(prefix, 'bias'), [dim], zeros);
  }
  apply(x: Tensor): Tensor {
    return ops.layerNorm(x, this.weight, this.bias, this.eps);
  }
}

export class LayerScale {
  readonly gamma: tf.Variable;
  constructor(store: ParamStore, prefix: string, dim: number, initValue: number) {
    this.gamma = store.param(join(prefix, 'gamma'), [dim], constant(initValue));
  }
  apply(x: Tensor): Tensor {
    return tf.mul(x, this.gamma);
  }
}

export class Linear {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
  /** nn.Linear with PyTorch's default init unless `init` overrides it. */
  constructor(store: ParamStore, prefix: string, inF: number, outF: number, bias = true, init: { weight?: InitSpec; bias?: InitSpec } = {}) {
    this.weight = store.param(join(prefix, 'weight'), [outF, inF], init.weight ?? torchDefaultWeight(inF));
    this.bias = bias ? store.param(join(prefix, 'bias'), [outF], init.bias ?? torchDefaultBias(inF)) : null;
  }
  apply(x: Tensor): Tensor {
    return ops.linear(x, this.weight, this.bias);
  }
}

// Head split / merge

/** [B, T, H·d] → [B, H, T, d] */
export function splitHeads(x: Tensor, heads: number): Tensor {
  const [b, t, e] = x.shape as [number, number, number];
  return tf.transpose(tf.reshape(x, [b, t, heads, e / heads]), [0, 2, 1, 3]);
}

/** [B, H, T, d] → [B, T, H·d] */
export function mergeHeads(x: Tensor): Tensor {
  const [b, h, t, d] = x.shape as [number, number, number, number];
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [b, t, h * d]);
}

/** Packed q|k|v projections [B, T, 3·H·d] → q, k, v as [B, H, T, d]: the engine's op (fused where it can be). */
export const splitQkvHeads = ops.splitQkvHeads;

// nn.MultiheadAttention

export interface MultiheadAttentionOptions {
  /** Key/value input width when it differs from `dim` (separate q/k/v projection weights). */
  kdim?: number;
}

/**
 * nn.MultiheadAttention(batch_first) semantics: q/k/v rows of `in_proj_weight` (or the separate
 * `q_proj_weight`/`k_proj_weight`/`v_proj_weight` when kdim ≠ dim), one `in_proj_bias`, `out_proj`.
 */
export class MultiheadAttention {
  readonly inProjWeight: tf.Variable | null = null;
  readonly qProjWeight: tf.Variable | null = null;
  readonly kProjWeight: tf.Variable | null = null;
  readonly vProjWeight: tf.Variable | null = null;
  readonly inProjBias: tf.Variable;
  readonly outProj: Linear;
  readonly kdim: number;

  constructor(store: ParamStore, prefix: string, readonly dim: number, readonly heads: number, options: MultiheadAttentionOptions = {}) {
    if (dim % heads !== 0) throw new Error(`${prefix}: width ${dim} is not divisible by ${heads} heads`);
    this.kdim = options.kdim ?? dim;
    if (this.kdim === dim) {
      this.inProjWeight = store.param(join(prefix, 'in_proj_weight'), [3 * dim, dim], xavierUniform(dim, 3 * dim));
    } else {
      this.qProjWeight = store.param(join(prefix, 'q_proj_weight'), [dim, dim], xavierUniform(dim, dim));
      this.kProjWeight = store.param(join(prefix, 'k_proj_weight'), [dim, this.kdim], xavierUniform(this.kdim, dim));
      this.vProjWeight = store.param(join(prefix, 'v_proj_weight'), [dim, this.kdim], xavierUniform(this.kdim, dim));
    }
    this.inProjBias = store.param(join(prefix, 'in_proj_bias'), [3 * dim], zeros);
    // nn.MultiheadAttention._reset_parameters zeroes out_proj.bias.
    this.outProj = new Linear(store, join(prefix, 'out_proj'), dim, dim, true, { bias: zeros });
  }

  /** q, k, v projections for query input `xq` [B,Tq,dim] and key/value input `xkv` [B,Tk,kdim]. */
  project(xq: Tensor, xkv: Tensor | null): [Tensor, Tensor, Tensor] {
    return tf.tidy(() => {
      const [bq, bk, bv] = tf.split(this.inProjBias, 3, 0);
      if (this.inProjWeight) {
        if (xkv === null) {
          const qkv = ops.linear(xq, this.inProjWeight, this.inProjBias);
          return tf.split(qkv, 3, -1) as [Tensor, Tensor, Tensor];
        }
        const [wq, wk, wv] = tf.split(this.inProjWeight, 3, 0);
        return [ops.linear(xq, wq, bq), ops.linear(xkv, wk, bk), ops.linear(xkv, wv, bv)];
      }
      const kv = xkv ?? xq;
      return [ops.linear(xq, this.qProjWeight!, bq), ops.linear(kv, this.kProjWeight!, bk), ops.linear(kv, this.vProjWeight!, bv)];
    });
  }

  /** Self-attention when `xkv` is null; `mask` additive, broadcastable to [B,H,Tq,Tk]. */
  apply(xq: Tensor, xkv: Tensor | null = null, mask: Tensor | null = null): Tensor {
    return tf.tidy(() => {
      let q: Tensor;
      let k: Tensor;
      let v: Tensor;
      if (xkv === null && this.inProjWeight) {
        [q, k, v] = splitQkvHeads(ops.linear(xq, this.inProjWeight, this.inProjBias), this.heads);
      } else {
        const [q0, k0, v0] = this.project(xq, xkv);
        [q, k, v] = [splitHeads(q0, this.heads), splitHeads(k0, this.heads), splitHeads(v0, this.heads)];
      }
      const o = ops.attention(q, k, v, { mask });
      return this.outProj.apply(mergeHeads(o));
    });
  }
}

// OpenCLIP's custom Attention (CustomResidualAttentionBlock)

export interface CustomAttentionOptions {
  qkNorm: boolean;
  scaledCosine: boolean;
  scaleHeads: boolean;
  innerNorm: boolean;
  eps: number;
}

const LOGIT_SCALE_MAX = Math.log(1 / 0.01);

/** OpenCLIP's `Attention`: packed in-projection (init randn·d^-½), optional per-head q/k LayerNorm etc. */
export class CustomAttention {
  readonly inProjWeight: tf.Variable;
  readonly inProjBias: tf.Variable;
  readonly lnQ: LayerNorm | null = null;
  readonly lnK: LayerNorm | null = null;
  readonly logitScale: tf.Variable | null = null;
  readonly headScale: tf.Variable | null = null;
  readonly lnInner: LayerNorm | null = null;
  readonly outProj: Linear;
  readonly headDim: number;

  constructor(store: ParamStore, prefix: string, readonly dim: number, readonly heads: number, o: CustomAttentionOptions) {
    if (dim % heads !== 0) throw new Error(`${prefix}: width ${dim} is not divisible by ${heads} heads`);
    if (o.qkNorm && o.scaledCosine) throw new Error(`${prefix}: qk_norm and scaled_cosine_attn cannot both be set (as in OpenCLIP)`);
    this.headDim = dim / heads;
    this.inProjWeight = store.param(join(prefix, 'in_proj_weight'), [3 * dim, dim], normal(this.headDim ** -0.5));
    this.inProjBias = store.param(join(prefix, 'in_proj_bias'), [3 * dim], zeros);
    if (o.scaledCosine) this.logitScale = store.param(join(prefix, 'logit_scale'), [heads, 1, 1], constant(Math.log(10)));
    if (o.scaleHeads) this.headScale = store.param(join(prefix, 'head_scale'), [heads, 1, 1], ones);
    if (o.qkNorm) {
      this.lnQ = new LayerNorm(store, join(prefix, 'ln_q'), this.headDim, o.eps);
      this.lnK = new LayerNorm(store, join(prefix, 'ln_k'), this.headDim, o.eps);
    }
    if (o.innerNorm) this.lnInner = new LayerNorm(store, join(prefix, 'ln_inner'), dim, o.eps);
    this.outProj = new Linear(store, join(prefix, 'out_proj'), dim, dim);
  }

  apply(x: Tensor, mask: Tensor | null = null): Tensor {
    return tf.tidy(() => {
      const qkv = ops.linear(x, this.inProjWeight, this.inProjBias);
      const [q0, k0, v] = splitQkvHeads(qkv, this.heads);
      let q = q0;
      let k = k0;
      let o: Tensor;
      if (this.logitScale) {
        const unit = (t: Tensor) => tf.div(t, tf.maximum(tf.norm(t, 'euclidean', -1, true), 1e-12));
        let s = tf.matMul(unit(q), unit(k), false, true);
        s = tf.mul(s, tf.exp(tf.minimum(this.logitScale, LOGIT_SCALE_MAX)));
        if (mask) s = tf.add(s, mask);
        o = tf.matMul(tf.softmax(s), v);
      } else {
        if (this.lnQ) q = this.lnQ.apply(q);
        if (this.lnK) k = this.lnK.apply(k);
        o = ops.attention(q, k, v, { mask });
      }
      if (this.headScale) o = tf.mul(o, this.headScale);
      let y = mergeHeads(o);
      if (this.lnInner) y = this.lnInner.apply(y);
      return this.outProj.apply(y);
    });
  }
}

// Residual attention blocks

export interface BlockOptions {
  mlpRatio: number;
  lsInitValue: number | null;
  act: ActivationName;
  eps: number;
  /** 'custom' builds CustomResidualAttentionBlock (OpenCLIP picks it when any custom option is set). */
  blockType: 'default' | 'custom';
  qkNorm?: boolean;
  scaledCosineAttn?: boolean;
  scaleHeads?: boolean;
  scaleAttnInner?: boolean;
  scaleAttn?: boolean;
  scaleFc?: boolean;
  /** ResidualAttentionBlock with `ln_1_kv` for cross-attention (CoCa's decoder). */
  crossAttention?: boolean;
}

/** Block type OpenCLIP's Transformer auto-selects when `block_type` is null. */
export function resolveBlockType(cfg: {
  block_type: 'default' | 'custom' | null; qk_norm: boolean; scaled_cosine_attn: boolean; scale_heads: boolean;
  scale_attn_inner: boolean; scale_attn: boolean; scale_fc: boolean;
}): 'default' | 'custom' {
  if (cfg.block_type) return cfg.block_type;
  return cfg.qk_norm || cfg.scaled_cosine_attn || cfg.scale_heads || cfg.scale_attn_inner || cfg.scale_attn || cfg.scale_fc
    ? 'custom'
    : 'default';
}

/** The block options a tower config (vision_cfg or text_cfg) sets, with the tower's activation and norm eps. */
export function blockOptionsFromConfig(
  cfg: Parameters<typeof resolveBlockType>[0] & { mlp_ratio: number; ls_init_value: number | null },
  act: ActivationName,
  eps: number,
): BlockOptions {
  return {
    mlpRatio: cfg.mlp_ratio,
    lsInitValue: cfg.ls_init_value,
    act,
    eps,
    blockType: resolveBlockType(cfg),
    qkNorm: cfg.qk_norm,
    scaledCosineAttn: cfg.scaled_cosine_attn,
    scaleHeads: cfg.scale_heads,
    scaleAttnInner: cfg.scale_attn_inner,
    scaleAttn: cfg.scale_attn,
    scaleFc: cfg.scale_fc,
  };
}

/** Pre-LN block: x + ls_1(attn(ln_1(x))), then x + ls_2(mlp(ln_2(x))). */
export class ResidualAttentionBlock {
  readonly ln1: LayerNorm;
  readonly attn: MultiheadAttention | CustomAttention;
  readonly lnAttn: LayerNorm | null = null;
  readonly ls1: LayerScale | null = null;
  readonly ln1Kv: LayerNorm | null = null;
  readonly ln2: LayerNorm;
  readonly cFc: Linear;
  readonly mlpLn: LayerNorm | null = null;
  readonly cProj: Linear;
  readonly ls2: LayerScale | null = null;
  readonly act: ActivationName;

  constructor(store: ParamStore, prefix: string, readonly width: number, readonly heads: number, o: BlockOptions) {
    this.act = o.act;
    const custom = o.blockType === 'custom';
    if (custom && o.crossAttention) throw new Error(`${prefix}: cross-attention blocks are always default ResidualAttentionBlocks`);
    this.ln1 = new LayerNorm(store, join(prefix, 'ln_1'), width, o.eps);
    this.attn = custom
      ? new CustomAttention(store, join(prefix, 'attn'), width, heads, {
        qkNorm: !!o.qkNorm, scaledCosine: !!o.scaledCosineAttn, scaleHeads: !!o.scaleHeads, innerNorm: !!o.scaleAttnInner, eps: o.eps,
      })
      : new MultiheadAttention(store, join(prefix, 'attn'), width, heads);
    if (custom && o.scaleAttn) this.lnAttn = new LayerNorm(store, join(prefix, 'ln_attn'), width, o.eps);
    if (o.lsInitValue !== null) this.ls1 = new LayerScale(store, join(prefix, 'ls_1'), width, o.lsInitValue);
    if (o.crossAttention) this.ln1Kv = new LayerNorm(store, join(prefix, 'ln_1_kv'), width, o.eps);
    this.ln2 = new LayerNorm(store, join(prefix, 'ln_2'), width, o.eps);
    const mlpWidth = Math.floor(width * o.mlpRatio);
    this.cFc = new Linear(store, join(prefix, 'mlp.c_fc'), width, mlpWidth);
    if (custom && o.scaleFc) this.mlpLn = new LayerNorm(store, join(prefix, 'mlp.ln'), mlpWidth, o.eps);
    this.cProj = new Linear(store, join(prefix, 'mlp.c_proj'), mlpWidth, width);
    if (o.lsInitValue !== null) this.ls2 = new LayerScale(store, join(prefix, 'ls_2'), width, o.lsInitValue);
  }

  /** `kv` (cross-attention only): the sequence attended to, normalised by `ln_1_kv`. */
  apply(x: Tensor, mask: Tensor | null = null, kv: Tensor | null = null): Tensor {
    return tf.tidy(() => {
      const h = this.ln1.apply(x);
      let a: Tensor;
      if (this.attn instanceof MultiheadAttention) {
        const kvIn = kv !== null ? (this.ln1Kv ? this.ln1Kv.apply(kv) : kv) : null;
        a = this.attn.apply(h, kvIn, mask);
      } else {
        a = this.attn.apply(h, mask);
      }
      if (this.lnAttn) a = this.lnAttn.apply(a);
      if (this.ls1) a = this.ls1.apply(a);
      const x1 = tf.add(x, a);
      let m = activate(this.cFc.apply(this.ln2.apply(x1)), this.act);
      if (this.mlpLn) m = this.mlpLn.apply(m);
      m = this.cProj.apply(m);
      if (this.ls2) m = this.ls2.apply(m);
      return tf.add(x1, m);
    });
  }
}

/** Called with each block's output (index, tensor); the tensor is disposed after the call returns. */
export type BlockHook = (index: number, x: Tensor) => void;

/** OpenCLIP's `Transformer`: `resblocks.<i>` run in order on batch-first input. */
export class Transformer {
  readonly resblocks: ResidualAttentionBlock[] = [];
  /** OpenCLIP's `grad_checkpointing`: recompute each block in the backward pass (grad-checkpoint.ts). */
  gradCheckpointing = false;
  private readonly blockParams: (() => Variable[])[] = [];

  constructor(store: ParamStore, prefix: string, readonly width: number, readonly layers: number, readonly heads: number, o: BlockOptions) {
    for (let i = 0; i < layers; i++) {
      const name = join(prefix, `resblocks.${i}`);
      this.resblocks.push(new ResidualAttentionBlock(store, name, width, heads, o));
      this.blockParams.push(() => paramsUnder(store, name));
    }
  }

  apply(x: Tensor, mask: Tensor | null = null, hook?: BlockHook): Tensor {
    return tf.tidy(() => {
      let h = x;
      this.resblocks.forEach((blk, i) => {
        if (!this.gradCheckpointing) h = blk.apply(h, mask);
        // the mask is an input of the checkpointed op, so the recomputation finds it saved
        else if (mask) h = checkpointed((y, m) => blk.apply(y, m), this.blockParams[i]())(h, mask);
        else h = checkpointed((y) => blk.apply(y, null), this.blockParams[i]())(h);
        hook?.(i, h);
      });
      return h;
    });
  }
}

/** OpenCLIP's text-tower init of a block stack (normal std attn/proj/fc). */
export function initTransformerLikeText(store: ParamStore, t: Transformer): void {
  const projStd = t.width ** -0.5 * (2 * t.layers) ** -0.5;
  const attnStd = t.width ** -0.5;
  const fcStd = (2 * t.width) ** -0.5;
  for (const blk of t.resblocks) {
    store.reinit(blk.attn.inProjWeight!, normal(attnStd));
    store.reinit(blk.attn.outProj.weight, normal(projStd));
    store.reinit(blk.cFc.weight, normal(fcStd));
    store.reinit(blk.cProj.weight, normal(projStd));
  }
}
