/**
 * timm's `VisionTransformer` under its own parameter names (`cls_token`, `reg_token`, `pos_embed`,
 * `patch_embed.proj`, `norm_pre`, `blocks.<i>`, `norm`, `attn_pool`, `fc_norm`, `head`): class
 * token or none, register tokens, position embedding over prefix tokens or not (`no_embed_class`),
 * pre-norm, qk-norm, layer scale, GELU / tanh-GELU, the final norm before or after pooling
 * (`fc_norm`), token / avg / max / avgmax / MAP pooling, patch dropout and stochastic depth (train
 * mode) and the classifier `head` OpenCLIP uses as projection. With `embed_cfg` the patch embedding
 * is ViTamin's convolutional backbone (`patch_embed.backbone`, timm's HybridEmbed without proj).
 */
import { tf, ops, Rng } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import { normal, torchDefaultBias, torchDefaultWeight, truncNormal } from '../../init/initializers.js';
import { LayerNorm } from '../layers.js';
import type { ActivationName } from '../layers.js';
import { join } from '../params.js';
import type { ParamStore } from '../params.js';
import type { ActivationHook } from '../vision-transformer.js';
import { AttentionPoolLatent, TimmBlock, TimmLinear, dropPathRates, timmActivation } from './timm-layers.js';
import type { GroupRule } from './timm-layers.js';
import type { TimmArgs } from './timm-registry.js';
import { TimmConvStem } from './timm-convstem.js';
import { VitaminConvStages } from './timm-vitamin.js';

export const VIT_POOLS = ['', 'avg', 'avgmax', 'max', 'token', 'map'] as const;
export type TimmPool = (typeof VIT_POOLS)[number];

export interface TimmTrunkOptions {
  /** Input size the trunk is built for (OpenCLIP's vision_cfg.image_size). */
  imageSize: [number, number];
  /** timm `num_classes`: the `head` Linear's width, 0 for none. */
  numClasses: number;
  /** timm `global_pool` override (OpenCLIP's timm_pool). */
  globalPool?: string;
  /** timm `patch_drop_rate`. */
  patchDropRate: number;
  /** timm `drop_path_rate` (stochastic depth, rising linearly over the blocks); 0 when omitted. */
  dropPathRate?: number;
  rng: Rng;
}

/** Non-overlapping patches of NCHW images as rows: [B, 3, H, W] → [B, gh·gw, 3·ph·pw] (conv weight order). */
export function patchifyNchw(x: Tensor, patch: [number, number], grid: [number, number]): Tensor {
  return tf.tidy(() => {
    const [b, c] = x.shape as [number, number, number, number];
    const [ph, pw] = patch;
    const [gh, gw] = grid;
    let img = x;
    if (x.shape[2] !== gh * ph || x.shape[3] !== gw * pw) img = tf.slice(x, [0, 0, 0, 0], [b, c, gh * ph, gw * pw]);
    const t1 = tf.transpose(tf.reshape(img, [b * c * gh, ph, gw, pw]), [0, 2, 1, 3]);
    const t2 = tf.transpose(tf.reshape(t1, [b, c, gh * gw, ph * pw]), [0, 2, 1, 3]);
    return tf.reshape(t2, [b, gh * gw, c * ph * pw]);
  });
}

/** The patch positions timm's PatchDropout keeps per image (train mode): max(1, int(L·(1-p))) picked by the order of normal noise (our draws). */
export function patchKeepIndices(b: number, n: number, rate: number, rng: Rng): Int32Array[] {
  const keep = Math.max(1, Math.floor(n * (1 - rate)));
  const noise = new Float64Array(n);
  const order = Array.from({ length: n }, (_, i) => i);
  const out: Int32Array[] = [];
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < n; j++) noise[j] = rng.normal();
    order.sort((p, q) => noise[p] - noise[q] || p - q);
    out.push(Int32Array.from(order.slice(0, keep)));
  }
  return out;
}

/** Keeps the `prefix` tokens and, per image, the patch tokens at `keep` (positions after the prefix). */
export function gatherKeptTokens(x: Tensor, prefix: number, keep: Int32Array[]): Tensor {
  return tf.tidy(() => {
    const [b, t, d] = x.shape as [number, number, number];
    const k = keep[0].length;
    const idx = new Int32Array(b * (prefix + k));
    for (let i = 0; i < b; i++) {
      const row = i * (prefix + k);
      for (let j = 0; j < prefix; j++) idx[row + j] = i * t + j;
      for (let j = 0; j < k; j++) idx[row + prefix + j] = i * t + prefix + keep[i][j];
    }
    return tf.reshape(tf.gather(tf.reshape(x, [b * t, d]), tf.tensor1d(idx, 'int32')), [b, prefix + k, d]);
  });
}

/** timm's PatchDropout (train mode) on [B, T, D] tokens with `prefix` leading tokens kept. */
export function dropPatchTokens(x: Tensor, prefix: number, rate: number, rng: Rng): Tensor {
  return gatherKeptTokens(x, prefix, patchKeepIndices(x.shape[0]!, x.shape[1]! - prefix, rate, rng));
}

/** Pools [B, T, D] tokens as timm's `global_pool_nlc`. */
export function globalPoolTokens(x: Tensor, pool: string, prefix: number): Tensor {
  return tf.tidy(() => {
    if (!pool) return x;
    if (pool === 'token') return tf.squeeze(tf.slice(x, [0, 0, 0], [-1, 1, -1]), [1]);
    const t = x.shape[1]!;
    const rest = prefix > 0 ? tf.slice(x, [0, prefix, 0], [-1, t - prefix, -1]) : x;
    if (pool === 'avg') return tf.mean(rest, 1);
    if (pool === 'max') return tf.max(rest, 1);
    if (pool === 'avgmax') return tf.mul(tf.add(tf.max(rest, 1), tf.mean(rest, 1)), 0.5);
    throw new Error(`unknown timm global pool '${pool}'`);
  });
}

export class TimmVisionTransformer {
  readonly family = 'vit' as const;
  readonly imageSize: [number, number];
  readonly patchSize: [number, number];
  readonly gridSize: [number, number];
  readonly embedDim: number;
  readonly numPrefixTokens: number;
  readonly noEmbedClass: boolean;
  readonly globalPool: string;
  readonly act: ActivationName;
  readonly eps: number;
  readonly numFeatures: number;
  patchDropRate: number;
  training = false;
  rng: Rng;

  readonly clsToken: tf.Variable | null;
  readonly regToken: tf.Variable | null;
  readonly posEmbed: tf.Variable | null;
  readonly patchWeight: tf.Variable | null;
  readonly patchBias: tf.Variable | null;
  /** A conv backbone as the patch embedding (`patch_embed.backbone`: ViTamin's, or timm's ConvStem), or null for a plain patch conv. */
  readonly hybrid: VitaminConvStages | TimmConvStem | null = null;
  readonly normPre: LayerNorm | null;
  readonly blocks: TimmBlock[] = [];
  readonly norm: LayerNorm | null;
  readonly attnPool: AttentionPoolLatent | null;
  readonly fcNorm: LayerNorm | null;
  readonly head: TimmLinear | null;

  constructor(store: ParamStore, readonly prefix: string, args: TimmArgs, o: TimmTrunkOptions) {
    const where = prefix;
    const p = args.patch_size;
    this.patchSize = [p, p];
    this.imageSize = o.imageSize;
    const d = args.embed_dim;
    if (args.embed_cfg && args.conv_stem) throw new Error(`${where}: embed_cfg and conv_stem are two different patch embeddings; give one`);
    if (args.embed_cfg || args.conv_stem) {
      if (p !== 1) throw new Error(`${where}: a hybrid patch embedding needs patch_size 1, got ${p}`);
      const width = args.embed_cfg ? args.embed_cfg.embed_dim[2] : args.conv_stem!.channels.at(-1);
      if (width !== d) throw new Error(`${where}: the conv backbone's width ${width} must equal embed_dim ${d}`);
      this.gridSize = args.embed_cfg ? VitaminConvStages.gridOf(o.imageSize) : TimmConvStem.gridOf(args.conv_stem!, o.imageSize);
    } else {
      this.gridSize = [Math.floor(o.imageSize[0] / p), Math.floor(o.imageSize[1] / p)];
    }
    if (this.gridSize[0] < 1 || this.gridSize[1] < 1) throw new Error(`${where}: image size ${o.imageSize} is smaller than patch ${p}`);
    this.embedDim = d;
    this.numFeatures = d;
    this.act = timmActivation(args.act_layer, where);
    this.eps = args.norm_eps ?? 1e-6;
    const globalPool = o.globalPool ?? args.global_pool ?? 'token';
    if (!(VIT_POOLS as readonly string[]).includes(globalPool)) throw new Error(`${where}: timm global_pool '${globalPool}' is not supported (${VIT_POOLS.map((x) => `'${x}'`).join(', ')})`);
    const classToken = args.class_token ?? true;
    if (globalPool === 'token' && !classToken) throw new Error(`${where}: global_pool 'token' needs a class token`);
    if (globalPool === 'map' && args.global_pool !== 'map') throw new Error(`${where}: attention pooling ('map') cannot be added to a timm model built without it`);
    this.globalPool = globalPool;
    const reg = args.reg_tokens ?? 0;
    this.numPrefixTokens = (classToken ? 1 : 0) + reg;
    this.noEmbedClass = args.no_embed_class ?? false;
    const preNorm = args.pre_norm ?? false;
    const finalNorm = args.final_norm ?? true;
    const useFcNorm = args.fc_norm ?? ['avg', 'avgmax', 'max'].includes(args.global_pool ?? 'token');
    this.patchDropRate = o.patchDropRate;
    this.rng = o.rng;

    // Own parameters first (PyTorch's state_dict order), then submodules.
    this.clsToken = classToken ? store.param(join(prefix, 'cls_token'), [1, 1, d], normal(1e-6)) : null;
    this.regToken = reg ? store.param(join(prefix, 'reg_token'), [1, reg, d], normal(1e-6)) : null;
    const nPos = this.gridSize[0] * this.gridSize[1] + (this.noEmbedClass ? 0 : this.numPrefixTokens);
    const posKind = args.pos_embed ?? 'learn';
    if (posKind !== 'learn' && posKind !== 'none') throw new Error(`${where}: pos_embed '${String(posKind)}' is not supported ('learn', 'none')`);
    this.posEmbed = posKind === 'learn' ? store.param(join(prefix, 'pos_embed'), [1, nPos, d], truncNormal(0.02)) : null;
    if (args.embed_cfg || args.conv_stem) {
      const bp = join(prefix, 'patch_embed.backbone');
      // timm builds ViTamin's MbConvStages with GELU whatever the transformer's act_layer
      this.hybrid = args.embed_cfg ? new VitaminConvStages(store, bp, args.embed_cfg, 'gelu') : new TimmConvStem(store, bp, args.conv_stem!);
      this.patchWeight = null;
      this.patchBias = null;
    } else {
      const fanIn = 3 * p * p;
      this.patchWeight = store.param(join(prefix, 'patch_embed.proj.weight'), [d, 3, p, p], torchDefaultWeight(fanIn));
      this.patchBias = preNorm ? null : store.param(join(prefix, 'patch_embed.proj.bias'), [d], torchDefaultBias(fanIn));
    }
    this.normPre = preNorm ? new LayerNorm(store, join(prefix, 'norm_pre'), d, this.eps) : null;
    const mlpLayer = args.mlp_layer ?? 'mlp';
    if (mlpLayer !== 'mlp' && mlpLayer !== 'geglu') throw new Error(`${where}: mlp_layer '${String(mlpLayer)}' is not supported ('mlp', 'geglu')`);
    const rates = dropPathRates(o.dropPathRate ?? 0, [args.depth])[0];
    for (let i = 0; i < args.depth; i++) {
      const rate = rates[i];
      this.blocks.push(new TimmBlock(store, join(prefix, `blocks.${i}`), d, args.num_heads, {
        mlpRatio: args.mlp_ratio ?? 4, mlpLayer, qkvBias: args.qkv_bias ?? true, qkNorm: args.qk_norm ?? false,
        initValues: args.init_values ?? null, act: this.act, eps: this.eps, dropPath: { rate, rng: o.rng },
      }));
    }
    this.norm = finalNorm && !useFcNorm ? new LayerNorm(store, join(prefix, 'norm'), d, this.eps) : null;
    this.attnPool = globalPool === 'map' ? new AttentionPoolLatent(store, join(prefix, 'attn_pool'), d, args.num_heads, args.mlp_ratio ?? 4, this.act, this.eps) : null;
    this.fcNorm = finalNorm && useFcNorm ? new LayerNorm(store, join(prefix, 'fc_norm'), d, this.eps) : null;
    this.head = o.numClasses > 0 ? new TimmLinear(store, join(prefix, 'head'), d, o.numClasses, true) : null;
    if (o.numClasses > 0) this.numFeatures = o.numClasses;
  }

  /** timm's `group_matcher` of VisionTransformer: stem, one group per block, `norm*` with the last block, the rest last. */
  groupRules(): GroupRule[] {
    return [
      { re: /cls_token|reg_token|pos_embed|patch_embed/, ordinal: 0, indexed: false },
      { re: /blocks\.(\d+)/, ordinal: 1, indexed: true },
      { re: /norm/, ordinal: 1, indexed: false, merge: true },
    ];
  }

  /** Patch embedding + prefix tokens + position embedding (+ patch dropout) + norm_pre: the tokens entering the blocks. */
  embed(images: Tensor, hook?: ActivationHook): Tensor {
    return tf.tidy(() => {
      const b = images.shape[0]!;
      const d = this.embedDim;
      let x: Tensor;
      if (this.hybrid) {
        const f = this.hybrid.apply(images, this.training, hook); // NHWC: flattening h, w gives timm's token order
        x = tf.reshape(f, [b, f.shape[1]! * f.shape[2]!, d]);
      } else {
        const patches = patchifyNchw(images, this.patchSize, this.gridSize);
        x = ops.linear(patches, tf.reshape(this.patchWeight!, [d, -1]), this.patchBias);
      }
      const pos = (t: Tensor) => (this.posEmbed ? tf.add(t, this.posEmbed) : t);
      const prefix: Tensor[] = [];
      if (this.clsToken) prefix.push(tf.tile(this.clsToken, [b, 1, 1]));
      if (this.regToken) prefix.push(tf.tile(this.regToken, [b, 1, 1]));
      if (this.noEmbedClass) {
        x = pos(x);
        if (prefix.length) x = tf.concat([...prefix, x], 1);
      } else {
        if (prefix.length) x = tf.concat([...prefix, x], 1);
        x = pos(x);
      }
      if (this.training && this.patchDropRate > 0) x = dropPatchTokens(x, this.numPrefixTokens, this.patchDropRate, this.rng);
      if (this.normPre) x = this.normPre.apply(x);
      return x;
    });
  }

  /** Pooled features before the head ([B, D]); with `hook`: (hybrid: stem_out, stage<i>_out,) after_norm_pre, block<i>_out, norm_out, pooled. */
  forwardFeatures(images: Tensor, hook?: ActivationHook): { tokens: Tensor; pooled: Tensor } {
    return tf.tidy(() => {
      let x = this.embed(images, hook);
      hook?.('after_norm_pre', x);
      this.blocks.forEach((blk, i) => {
        x = blk.apply(x, this.training);
        hook?.(`block${i}_out`, x);
      });
      if (this.norm) x = this.norm.apply(x);
      hook?.('norm_out', x);
      let pooled: Tensor;
      if (this.attnPool) {
        const t = x.shape[1]!;
        pooled = this.attnPool.apply(this.numPrefixTokens ? tf.slice(x, [0, this.numPrefixTokens, 0], [-1, t - this.numPrefixTokens, -1]) : x);
      } else {
        pooled = globalPoolTokens(x, this.globalPool, this.numPrefixTokens);
      }
      if (this.fcNorm) pooled = this.fcNorm.apply(pooled);
      hook?.('pooled', pooled);
      return { tokens: x, pooled };
    });
  }

  forward(images: Tensor, hook?: ActivationHook): Tensor {
    return tf.tidy(() => {
      const { pooled } = this.forwardFeatures(images, hook);
      return this.head ? this.head.apply(pooled) : pooled;
    });
  }
}
