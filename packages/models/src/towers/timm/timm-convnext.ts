/**
 * timm's `ConvNeXt` under its own parameter names (`stem.*`, `stages.<i>.downsample.*`,
 * `stages.<i>.blocks.<j>.{gamma,conv_dw,norm,mlp}`, `norm_pre`, `head.{norm,pre_logits.fc,fc}`):
 * patch or overlapping stems, per-stage depthwise kernel sizes, layer scale, MLP as Linear or
 * 1×1 conv, Global Response Norm (ConvNeXt V2), LayerNorm eps, stochastic depth (train mode), the
 * pool → norm → (pre-logits) → fc head or norm → pool → fc, and timm's layer grouping.
 * Activations run NHWC; weights keep PyTorch's layout.
 */
import { tf, ops } from '@openclip/engine';
import type { Rng, Tensor } from '@openclip/engine';
import { zeros } from '../../init/initializers.js';
import { LayerNorm, activate } from '../layers.js';
import { join } from '../params.js';
import type { ParamStore } from '../params.js';
import type { ActivationHook } from '../vision-transformer.js';
import { TIMM_CONV_INIT, nchwToNhwc, nhwcToNchw } from './timm-conv-layers.js';
import { TimmConv2d } from './timm-conv.js';
import { dropPath, dropPathRates } from './timm-layers.js';
import { TimmLinear, timmActivation } from './timm-layers.js';
import type { GroupRule } from './timm-layers.js';
import type { ActivationName } from '../layers.js';
import type { TimmTrunkOptions } from './timm-vit.js';

/** timm ConvNeXt keyword arguments this port reads (timm's names). */
export interface ConvNextArgs {
  depths: number[];
  dims: number[];
  kernel_sizes?: number | number[];
  ls_init_value?: number | null;
  stem_type?: 'patch' | 'overlap' | 'overlap_tiered' | 'overlap_act';
  patch_size?: number;
  head_norm_first?: boolean;
  head_hidden_size?: number | null;
  conv_mlp?: boolean;
  conv_bias?: boolean;
  use_grn?: boolean;
  act_layer?: string;
  norm_eps?: number | null;
  global_pool?: string;
  drop_path_rate?: number;
}

export const CONVNEXT_POOLS = ['avg', 'max', 'avgmax'] as const;

/** Global pooling of NHWC features to [B, C]. */
function poolNhwc(x: Tensor, pool: string): Tensor {
  return tf.tidy(() => {
    if (pool === 'avg') return tf.mean(x, [1, 2]);
    if (pool === 'max') return tf.max(x, [1, 2]);
    return tf.mul(tf.add(tf.mean(x, [1, 2]), tf.max(x, [1, 2])), 0.5);
  });
}

/** timm `GlobalResponseNorm` over NHWC: x + bias + weight·x·n, n = ‖x‖₂(spatial) / (mean over channels + eps). */
class GlobalResponseNorm {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  constructor(store: ParamStore, prefix: string, dim: number, readonly eps = 1e-6) {
    this.weight = store.param(join(prefix, 'weight'), [dim], zeros);
    this.bias = store.param(join(prefix, 'bias'), [dim], zeros);
  }
  apply(x: Tensor): Tensor {
    return tf.tidy(() => {
      const g = tf.sqrt(tf.sum(tf.square(x), [1, 2], true));
      const n = tf.div(g, tf.add(tf.mean(g, 3, true), this.eps));
      return tf.add(x, tf.add(this.bias, tf.mul(this.weight, tf.mul(x, n))));
    });
  }
}

/** A Linear (`use_conv` false) or 1×1 conv (`use_conv` true) over the channels of NHWC input. */
class PointwiseLinear {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
  constructor(store: ParamStore, prefix: string, inF: number, outF: number, conv: boolean, bias = true) {
    this.weight = store.param(join(prefix, 'weight'), conv ? [outF, inF, 1, 1] : [outF, inF], TIMM_CONV_INIT.weight);
    this.bias = bias ? store.param(join(prefix, 'bias'), [outF], TIMM_CONV_INIT.bias) : null;
  }
  apply(x: Tensor): Tensor {
    return tf.tidy(() => ops.linear(x, this.weight.rank === 2 ? this.weight : tf.reshape(this.weight, [this.weight.shape[0]!, -1]), this.bias));
  }
}

class ConvNextMlp {
  readonly fc1: PointwiseLinear;
  readonly grn: GlobalResponseNorm | null;
  readonly fc2: PointwiseLinear;
  constructor(store: ParamStore, prefix: string, dim: number, hidden: number, conv: boolean, grn: boolean, readonly act: ActivationName) {
    this.fc1 = new PointwiseLinear(store, join(prefix, 'fc1'), dim, hidden, conv);
    this.grn = grn ? new GlobalResponseNorm(store, join(prefix, 'grn'), hidden) : null;
    this.fc2 = new PointwiseLinear(store, join(prefix, 'fc2'), hidden, dim, conv);
  }
  apply(x: Tensor): Tensor {
    return tf.tidy(() => {
      let h = this.fc1.apply(x);
      h = activate(h, this.act);
      if (this.grn) h = this.grn.apply(h);
      return this.fc2.apply(h);
    });
  }
}

/** timm `ConvNeXtBlock`: x + drop_path(gamma · mlp(norm(conv_dw(x)))). */
export class ConvNextBlock {
  readonly gamma: tf.Variable | null;
  readonly convDw: TimmConv2d;
  readonly norm: LayerNorm;
  readonly mlp: ConvNextMlp;
  constructor(store: ParamStore, prefix: string, dim: number, k: number, o: {
    lsInit: number | null; convMlp: boolean; convBias: boolean; grn: boolean; act: ActivationName; eps: number; dropPath: number;
  }, readonly dropRate = o.dropPath) {
    // the module's own parameter first (PyTorch's state_dict order)
    this.gamma = o.lsInit !== null ? store.param(join(prefix, 'gamma'), [dim], { kind: 'const', value: o.lsInit }) : null;
    this.convDw = new TimmConv2d(store, join(prefix, 'conv_dw'), dim, dim, k, { groups: dim, bias: o.convBias, init: TIMM_CONV_INIT });
    this.norm = new LayerNorm(store, join(prefix, 'norm'), dim, o.eps); // timm's LayerNorm2d with the conv MLP: the same op on NHWC
    this.mlp = new ConvNextMlp(store, join(prefix, 'mlp'), dim, 4 * dim, o.convMlp, o.grn, o.act);
  }
  apply(x: Tensor, training: boolean, rng: Rng): Tensor {
    return tf.tidy(() => {
      let y = this.mlp.apply(this.norm.apply(this.convDw.apply(x)));
      if (this.gamma) y = tf.mul(y, this.gamma);
      return tf.add(training ? dropPath(y, this.dropRate, rng) : y, x);
    });
  }
}

export class TimmConvNext {
  readonly family = 'convnext' as const;
  readonly imageSize: [number, number];
  readonly numFeatures: number;
  readonly globalPool: string;
  training = false;
  readonly rng: Rng;

  readonly stem: (TimmConv2d | LayerNorm | 'gelu')[] = [];
  readonly stages: { downsample: { norm: LayerNorm; conv: TimmConv2d } | null; blocks: ConvNextBlock[] }[] = [];
  readonly normPre: LayerNorm | null;
  readonly headNorm: LayerNorm | null;
  readonly preLogits: TimmLinear | null;
  readonly fc: TimmLinear | null;

  constructor(store: ParamStore, readonly prefix: string, args: ConvNextArgs, o: TimmTrunkOptions) {
    const where = prefix;
    this.imageSize = o.imageSize;
    this.rng = o.rng;
    const { depths, dims } = args;
    if (depths.length !== 4 || dims.length !== 4) throw new Error(`${where}: ConvNeXt needs 4 stage depths and dims, got depths [${depths}] dims [${dims}]`);
    const ks = typeof args.kernel_sizes === 'number' || args.kernel_sizes === undefined ? new Array<number>(4).fill(args.kernel_sizes ?? 7) : args.kernel_sizes;
    if (ks.length !== 4) throw new Error(`${where}: kernel_sizes needs 4 entries, got [${ks}]`);
    const eps = args.norm_eps ?? 1e-6;
    const convMlp = args.conv_mlp ?? false;
    const convBias = args.conv_bias ?? true;
    const act = timmActivation(args.act_layer, where);
    const stemType = args.stem_type ?? 'patch';
    const globalPool = o.globalPool ?? args.global_pool ?? 'avg';
    if (!(CONVNEXT_POOLS as readonly string[]).includes(globalPool)) {
      throw new Error(`${where}: timm global_pool '${globalPool}' is not supported for ConvNeXt (${CONVNEXT_POOLS.map((x) => `'${x}'`).join(', ')}; '' leaves NCHW maps that OpenCLIP cannot use as features)`);
    }
    this.globalPool = globalPool;
    if (o.patchDropRate > 0) throw new Error(`${where}: patch dropout (vision_cfg.patch_dropout) applies to ViT tokens, not ConvNeXt`);
    const headNormFirst = args.head_norm_first ?? false;
    const hidden = args.head_hidden_size ?? null;
    if (headNormFirst && hidden) throw new Error(`${where}: head_hidden_size needs head_norm_first false (as timm asserts)`);

    // Own parameters first, then submodules, in PyTorch's state_dict order.
    let stemStride: number;
    if (stemType === 'patch') {
      const p = args.patch_size ?? 4;
      this.stem.push(new TimmConv2d(store, join(prefix, 'stem.0'), 3, dims[0], p, { stride: p, padding: 0, bias: convBias, init: TIMM_CONV_INIT }));
      this.stem.push(new LayerNorm(store, join(prefix, 'stem.1'), dims[0], eps));
      stemStride = p;
    } else if (['overlap', 'overlap_tiered', 'overlap_act'].includes(stemType)) {
      const mid = stemType === 'overlap_tiered' ? makeDivisible(Math.floor(dims[0] / 2)) : dims[0];
      let i = 0;
      this.stem.push(new TimmConv2d(store, join(prefix, `stem.${i++}`), 3, mid, 3, { stride: 2, padding: 1, bias: convBias, init: TIMM_CONV_INIT }));
      if (stemType === 'overlap_act') {
        this.stem.push('gelu');
        i++;
      }
      this.stem.push(new TimmConv2d(store, join(prefix, `stem.${i++}`), mid, dims[0], 3, { stride: 2, padding: 1, bias: convBias, init: TIMM_CONV_INIT }));
      this.stem.push(new LayerNorm(store, join(prefix, `stem.${i}`), dims[0], eps));
      stemStride = 4;
    } else {
      throw new Error(`${where}: stem_type '${String(stemType)}' is not one of patch, overlap, overlap_tiered, overlap_act`);
    }
    if (stemType === 'overlap_act' && act !== 'gelu') throw new Error(`${where}: stem_type 'overlap_act' is supported with act_layer gelu only`);

    const rates = dropPathRates(args.drop_path_rate ?? 0, depths);
    let prev = dims[0];
    let stride = stemStride;
    for (let i = 0; i < 4; i++) {
      const s = stride === 2 || i > 0 ? 2 : 1;
      if (stride >= 32 && s > 1) throw new Error(`${where}: a stem stride of ${stemStride} would need dilated stages (output_stride 32), which this port does not build`);
      stride *= s;
      const sp = join(prefix, `stages.${i}`);
      let downsample: { norm: LayerNorm; conv: TimmConv2d } | null = null;
      if (prev !== dims[i] || s > 1) {
        const k = s > 1 ? 2 : 1;
        downsample = {
          norm: new LayerNorm(store, join(sp, 'downsample.0'), prev, eps),
          conv: new TimmConv2d(store, join(sp, 'downsample.1'), prev, dims[i], k, { stride: s, padding: 0, bias: convBias, init: TIMM_CONV_INIT }),
        };
      }
      const blocks: ConvNextBlock[] = [];
      for (let j = 0; j < depths[i]; j++) {
        blocks.push(new ConvNextBlock(store, join(sp, `blocks.${j}`), dims[i], ks[i], {
          lsInit: args.ls_init_value === undefined ? 1e-6 : args.ls_init_value, convMlp, convBias, grn: args.use_grn ?? false, act, eps, dropPath: rates[i][j],
        }));
      }
      this.stages.push({ downsample, blocks });
      prev = dims[i];
    }
    let features = prev;
    if (headNormFirst) {
      this.normPre = new LayerNorm(store, join(prefix, 'norm_pre'), prev, eps);
      this.headNorm = null;
      this.preLogits = null;
    } else {
      this.normPre = null;
      this.headNorm = new LayerNorm(store, join(prefix, 'head.norm'), prev, eps);
      this.preLogits = hidden ? new TimmLinear(store, join(prefix, 'head.pre_logits.fc'), prev, hidden, true, TIMM_CONV_INIT) : null;
      if (hidden) features = hidden;
    }
    this.fc = o.numClasses > 0 ? new TimmLinear(store, join(prefix, 'head.fc'), features, o.numClasses, true, TIMM_CONV_INIT) : null;
    this.numFeatures = o.numClasses > 0 ? o.numClasses : features;
  }

  /** timm's ConvNeXt `group_matcher`: stem; each stage's downsample with its first block, then one group per block; norm_pre with the last; head last. */
  groupRules(): GroupRule[] {
    return [
      { re: /stem/, ordinal: 0, indexed: false },
      { re: /stages\.(\d+)\.downsample/, ordinal: 1, indexed: true, suffix: [0] },
      { re: /stages\.(\d+)\.blocks\.(\d+)/, ordinal: 1, indexed: true },
      { re: /norm_pre/, ordinal: 1, indexed: false, merge: true },
    ];
  }

  /** Stem + stages (+ norm_pre): NHWC feature maps; `hook` sees stem_out and stage<i>_out as NCHW. */
  forwardFeatures(images: Tensor, hook?: ActivationHook): Tensor {
    return tf.tidy(() => {
      let x = nchwToNhwc(images);
      for (const m of this.stem) x = m === 'gelu' ? ops.gelu(x) : m.apply(x);
      if (hook) hook('stem_out', nhwcToNchw(x));
      this.stages.forEach((st, i) => {
        if (st.downsample) x = st.downsample.conv.apply(st.downsample.norm.apply(x));
        for (const b of st.blocks) x = b.apply(x, this.training, this.rng);
        if (hook) hook(`stage${i}_out`, nhwcToNchw(x));
      });
      if (this.normPre) x = this.normPre.apply(x);
      return x;
    });
  }

  /** Pooled features before the classifier ([B, C]); `hook` sees them as `pooled`. */
  forwardHead(x: Tensor, hook?: ActivationHook): Tensor {
    return tf.tidy(() => {
      let y = poolNhwc(x, this.globalPool);
      if (this.headNorm) y = this.headNorm.apply(y);
      if (this.preLogits) y = ops.gelu(this.preLogits.apply(y));
      hook?.('pooled', y);
      return this.fc ? this.fc.apply(y) : y;
    });
  }

  forward(images: Tensor, hook?: ActivationHook): Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(images, hook), hook));
  }

  dispose(): void {}
}

/** timm `make_divisible(v, 8)`. */
function makeDivisible(v: number, divisor = 8): number {
  const n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  return n < 0.9 * v ? n + divisor : n;
}
