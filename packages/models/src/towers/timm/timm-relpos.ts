/**
 * timm's `VisionTransformerRelPos` (vit_relpos_*) under its own parameter names: no absolute
 * position embedding; every block's attention adds a relative position bias that a small MLP
 * (`attn.rel_pos.mlp.fc1` → ReLU → `fc2`, timm's `RelPosMlp` in 'cr' mode) computes from signed
 * log relative coordinates of the patch grid (zero for the class token), then the usual pre-norm
 * block, final norm or fc_norm, token / avg pooling and the classifier `head`.
 */
import { tf, ops, Rng } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import { normal, torchDefaultBias, torchDefaultWeight } from '../../init/initializers.js';
import { LayerNorm, mergeHeads, splitQkvHeads } from '../layers.js';
import type { ActivationName } from '../layers.js';
import { join } from '../params.js';
import type { ParamStore } from '../params.js';
import type { ActivationHook } from '../vision-transformer.js';
import { TimmLayerScale, TimmLinear, TimmMlp, timmActivation } from './timm-layers.js';
import type { GroupRule } from './timm-layers.js';
import type { TimmArgs } from './timm-registry.js';
import { globalPoolTokens, patchifyNchw } from './timm-vit.js';
import type { TimmTrunkOptions } from './timm-vit.js';

/** Signed log relative coordinates [(2gh-1)·(2gw-1), 2] (timm's 'cr' mode) and the [N·N] index of each query/key pair into them. */
export function relativeLogCoords(grid: [number, number]): { coords: Float32Array; index: Int32Array } {
  const [gh, gw] = grid;
  const rh = 2 * gh - 1;
  const rw = 2 * gw - 1;
  const coords = new Float32Array(rh * rw * 2);
  const slog = (v: number) => Math.fround(Math.sign(v) * Math.fround(Math.log(1 + Math.abs(v))));
  for (let i = 0; i < rh; i++) {
    for (let j = 0; j < rw; j++) {
      coords[(i * rw + j) * 2] = slog(i - (gh - 1));
      coords[(i * rw + j) * 2 + 1] = slog(j - (gw - 1));
    }
  }
  const n = gh * gw;
  const index = new Int32Array(n * n);
  for (let q = 0; q < n; q++) {
    for (let k = 0; k < n; k++) {
      const dh = Math.floor(q / gw) - Math.floor(k / gw) + gh - 1;
      const dw = (q % gw) - (k % gw) + gw - 1;
      index[q * n + k] = dh * rw + dw;
    }
  }
  return { coords, index };
}

/** timm `RelPosAttention` with its own `RelPosMlp`. */
class RelPosAttention {
  readonly qkv: TimmLinear;
  readonly relFc1: TimmLinear;
  readonly relFc2: TimmLinear;
  readonly proj: TimmLinear;
  constructor(store: ParamStore, prefix: string, dim: number, readonly heads: number, qkvBias: boolean, relPosDim: number, private readonly trunk: TimmRelPosTransformer) {
    if (dim % heads !== 0) throw new Error(`${prefix}: embed_dim ${dim} is not divisible by ${heads} heads`);
    this.qkv = new TimmLinear(store, join(prefix, 'qkv'), dim, 3 * dim, qkvBias);
    this.relFc1 = new TimmLinear(store, join(prefix, 'rel_pos.mlp.fc1'), 2, relPosDim, true);
    this.relFc2 = new TimmLinear(store, join(prefix, 'rel_pos.mlp.fc2'), relPosDim, heads, true);
    this.proj = new TimmLinear(store, join(prefix, 'proj'), dim, dim, true);
  }

  /** The additive bias [1, H, T, T] (prefix rows/columns zero); the MLP's hidden dropout (p 0.125) is active in train mode. */
  bias(): Tensor {
    return tf.tidy(() => {
      const t = this.trunk;
      let h = tf.relu(this.relFc1.apply(t.relCoords));
      if (t.training) h = tf.dropout(h, 0.125, undefined, t.rng.nextUint32());
      const table = this.relFc2.apply(h); // [M, H]
      const n = t.gridSize[0] * t.gridSize[1];
      const b = tf.transpose(tf.reshape(tf.gather(table, t.relIndex), [n, n, this.heads]), [2, 0, 1]);
      const p = t.numPrefixTokens;
      const padded = p ? tf.pad(b, [[0, 0], [p, 0], [p, 0]]) : b;
      return tf.expandDims(padded, 0);
    });
  }

  apply(x: Tensor): Tensor {
    return tf.tidy(() => {
      const [q, k, v] = splitQkvHeads(this.qkv.apply(x), this.heads);
      return this.proj.apply(mergeHeads(ops.attention(q, k, v, { mask: this.bias() })));
    });
  }
}

class RelPosBlock {
  readonly norm1: LayerNorm;
  readonly attn: RelPosAttention;
  readonly ls1: TimmLayerScale | null;
  readonly norm2: LayerNorm;
  readonly mlp: TimmMlp;
  readonly ls2: TimmLayerScale | null;
  constructor(store: ParamStore, prefix: string, dim: number, heads: number, o: { qkvBias: boolean; relPosDim: number; initValues: number | null; mlpRatio: number; act: ActivationName; eps: number }, trunk: TimmRelPosTransformer) {
    this.norm1 = new LayerNorm(store, join(prefix, 'norm1'), dim, o.eps);
    this.attn = new RelPosAttention(store, join(prefix, 'attn'), dim, heads, o.qkvBias, o.relPosDim, trunk);
    this.ls1 = o.initValues ? new TimmLayerScale(store, join(prefix, 'ls1'), dim, o.initValues) : null;
    this.norm2 = new LayerNorm(store, join(prefix, 'norm2'), dim, o.eps);
    this.mlp = new TimmMlp(store, join(prefix, 'mlp'), dim, Math.floor(dim * o.mlpRatio), dim, o.act);
    this.ls2 = o.initValues ? new TimmLayerScale(store, join(prefix, 'ls2'), dim, o.initValues) : null;
  }
  apply(x: Tensor): Tensor {
    return tf.tidy(() => {
      let a = this.attn.apply(this.norm1.apply(x));
      if (this.ls1) a = this.ls1.apply(a);
      const x1 = tf.add(x, a);
      let m = this.mlp.apply(this.norm2.apply(x1));
      if (this.ls2) m = this.ls2.apply(m);
      return tf.add(x1, m);
    });
  }
}

export class TimmRelPosTransformer {
  readonly family = 'vit_relpos' as const;
  readonly imageSize: [number, number];
  readonly patchSize: [number, number];
  readonly gridSize: [number, number];
  readonly embedDim: number;
  readonly numPrefixTokens: number;
  readonly noEmbedClass = false;
  readonly globalPool: string;
  readonly eps: number;
  numFeatures: number;
  patchDropRate = 0;
  training = false;
  rng: Rng;

  readonly clsToken: tf.Variable | null;
  /** No absolute position embedding. */
  readonly posEmbed = null;
  readonly patchWeight: tf.Variable;
  readonly patchBias: tf.Variable;
  readonly blocks: RelPosBlock[] = [];
  readonly norm: LayerNorm | null;
  readonly fcNorm: LayerNorm | null;
  readonly head: TimmLinear | null;
  /** Constant inputs of the rel-pos MLPs (not parameters). */
  readonly relCoords: Tensor;
  readonly relIndex: Tensor;

  constructor(store: ParamStore, readonly prefix: string, args: TimmArgs, o: TimmTrunkOptions) {
    const where = prefix;
    if (o.patchDropRate > 0) throw new Error(`${where}: timm's VisionTransformerRelPos has no patch dropout (vision_cfg.patch_dropout must be 0)`);
    const p = args.patch_size;
    this.patchSize = [p, p];
    this.imageSize = o.imageSize;
    const defaultSize = typeof args.img_size === 'number' ? [args.img_size, args.img_size] : args.img_size;
    if (defaultSize && (defaultSize[0] !== o.imageSize[0] || defaultSize[1] !== o.imageSize[1])) {
      throw new Error(`${where}: timm's VisionTransformerRelPos has no set_input_size, so OpenCLIP cannot change its image size (${defaultSize.join('x')}); --force-image-size is not supported for it`);
    }
    this.gridSize = [Math.floor(o.imageSize[0] / p), Math.floor(o.imageSize[1] / p)];
    const d = args.embed_dim;
    this.embedDim = d;
    this.numFeatures = d;
    this.eps = args.norm_eps ?? 1e-6;
    const globalPool = o.globalPool ?? args.global_pool ?? 'avg';
    if (!['', 'avg', 'token'].includes(globalPool)) throw new Error(`${where}: VisionTransformerRelPos global_pool must be '', 'avg' or 'token', got '${globalPool}'`);
    this.globalPool = globalPool;
    const classToken = args.class_token ?? false;
    if (globalPool === 'token' && !classToken) throw new Error(`${where}: global_pool 'token' needs a class token`);
    this.numPrefixTokens = classToken ? 1 : 0;
    const fcNorm = args.fc_norm ?? false;
    this.rng = o.rng;
    const { coords, index } = relativeLogCoords(this.gridSize);
    this.relCoords = tf.keep(tf.tensor2d(coords, [coords.length / 2, 2]));
    this.relIndex = tf.keep(tf.tensor1d(index, 'int32'));

    this.clsToken = classToken ? store.param(join(prefix, 'cls_token'), [1, 1, d], normal(1e-6)) : null;
    const fanIn = 3 * p * p;
    this.patchWeight = store.param(join(prefix, 'patch_embed.proj.weight'), [d, 3, p, p], torchDefaultWeight(fanIn));
    this.patchBias = store.param(join(prefix, 'patch_embed.proj.bias'), [d], torchDefaultBias(fanIn));
    const act = timmActivation(args.act_layer, where);
    // VisionTransformerRelPos defaults: qkv bias on, layer scale 1e-6.
    const blockOptions = { qkvBias: args.qkv_bias ?? true, relPosDim: args.rel_pos_dim ?? 128, initValues: args.init_values === undefined ? 1e-6 : args.init_values, mlpRatio: args.mlp_ratio ?? 4, act, eps: this.eps };
    for (let i = 0; i < args.depth; i++) this.blocks.push(new RelPosBlock(store, join(prefix, `blocks.${i}`), d, args.num_heads, blockOptions, this));
    this.norm = fcNorm ? null : new LayerNorm(store, join(prefix, 'norm'), d, this.eps);
    this.fcNorm = fcNorm ? new LayerNorm(store, join(prefix, 'fc_norm'), d, this.eps) : null;
    this.head = o.numClasses > 0 ? new TimmLinear(store, join(prefix, 'head'), d, o.numClasses, true) : null;
    if (o.numClasses > 0) this.numFeatures = o.numClasses;
  }

  /** timm's `group_matcher` of VisionTransformerRelPos. */
  groupRules(): GroupRule[] {
    return [
      { re: /cls_token|patch_embed/, ordinal: 0, indexed: false },
      { re: /blocks\.(\d+)/, ordinal: 1, indexed: true },
      { re: /norm/, ordinal: 1, indexed: false, merge: true },
    ];
  }

  forwardFeatures(images: Tensor, hook?: ActivationHook): { tokens: Tensor; pooled: Tensor } {
    return tf.tidy(() => {
      const b = images.shape[0]!;
      const d = this.embedDim;
      let x = ops.linear(patchifyNchw(images, this.patchSize, this.gridSize), tf.reshape(this.patchWeight, [d, -1]), this.patchBias);
      if (this.clsToken) x = tf.concat([tf.tile(this.clsToken, [b, 1, 1]), x], 1);
      hook?.('after_norm_pre', x);
      this.blocks.forEach((blk, i) => {
        x = blk.apply(x);
        hook?.(`block${i}_out`, x);
      });
      if (this.norm) x = this.norm.apply(x);
      hook?.('norm_out', x);
      let pooled = globalPoolTokens(x, this.globalPool, this.numPrefixTokens);
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

  dispose(): void {
    this.relCoords.dispose();
    this.relIndex.dispose();
  }
}
