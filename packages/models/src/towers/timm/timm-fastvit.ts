/**
 * timm's FastViT (timm/models/fastvit.py) in its train-time (un-reparameterised) form, the form
 * OpenCLIP builds and MobileCLIP checkpoints store: MobileOne blocks (BatchNorm identity, k×k and
 * 1×1 conv+BN branches, squeeze-excite), the RepLKNet-style large-kernel patch embedding, RepMixer
 * and attention metaformer blocks with convolutional MLPs, the conditional position encoding
 * (RepCPE), the final MobileOne conv and timm's ClassifierHead (`head.fc`). BatchNorm uses batch
 * statistics in train mode (running statistics updated as PyTorch does) and running statistics in
 * eval mode (or when frozen). With running statistics every re-parameterisable block runs as the
 * single convolution timm's `reparameterize()` would build — branches, BatchNorms, identity and
 * layer scale folded into one kernel on the fly, with the same parameters, so gradients still reach
 * every branch. Activations run NHWC; parameters keep timm's names and PyTorch layouts. The
 * MobileCLIP `fastvit_mci*` sizes are in timm-hybrid-models.ts.
 */
import { tf } from '@openclip/engine';
import type { Rng, Tensor } from '@openclip/engine';
import { constant, truncNormal, zeros } from '../../init/initializers.js';
import { activate } from '../layers.js';
import { join } from '../params.js';
import type { ParamStore } from '../params.js';
import type { ActivationHook } from '../vision-transformer.js';
import { TimmBatchNorm2d, TimmConv2d, conv2dNhwc, identityKernel, padKernel, timmPadding } from './timm-conv.js';
import type { ConvGeometry } from './timm-conv.js';
import { TimmAttention, TimmLinear, dropPath, dropPathRates } from './timm-layers.js';
import type { GroupRule } from './timm-layers.js';
import { makeDivisible } from './timm-vitamin.js';

/** timm FastVit keyword arguments this port reads (timm's names). */
export interface FastVitArgs {
  layers: number[];
  embed_dims: number[];
  mlp_ratios: number[];
  token_mixers: ('repmixer' | 'attention')[];
  /** Kernel size of each stage's RepCPE (timm's `pos_embs` entry `partial(RepConditionalPosEnc, spatial_shape=(k, k))`), or null. */
  pos_embs?: (number | null)[];
  downsamples?: boolean[];
  se_downsamples?: boolean[];
  repmixer_kernel_size?: number;
  down_patch_size?: number;
  down_stride?: number;
  layer_scale_init_value?: number | null;
  lkc_use_act?: boolean;
  /**
   * timm's `inference_mode`: the re-parameterised structure (`reparam_conv` in place of each
   * MobileOne block's branches, each large-kernel conv's pair, each RepMixer and RepCPE), as a
   * checkpoint saved after timm's `reparameterize_model` holds it.
   */
  inference_mode?: boolean;
  stem_use_scale_branch?: boolean;
  cls_ratio?: number;
  global_pool?: string;
}

export const FASTVIT_POOLS = ['avg', 'max', 'avgmax'] as const;

/** A convolution kernel [out, in/groups, k, k] and bias [out]. */
interface Kernel {
  w: Tensor;
  b: Tensor;
}

/** `ConvNormAct` without activation: conv (no bias) → BatchNorm2d (`conv`, `bn`). */
class ConvBn {
  readonly conv: TimmConv2d;
  readonly bn: TimmBatchNorm2d;
  constructor(store: ParamStore, prefix: string, inC: number, outC: number, k: number, stride: number, groups: number) {
    this.conv = new TimmConv2d(store, join(prefix, 'conv'), inC, outC, k, { stride, groups, bias: false });
    this.bn = new TimmBatchNorm2d(store, join(prefix, 'bn'), outC);
  }
  /** The conv with its BatchNorm (running statistics) folded in. */
  fused(): Kernel {
    return tf.tidy(() => {
      const { scale, shift } = this.bn.affine();
      return { w: tf.mul(this.conv.weight, tf.reshape(scale, [-1, 1, 1, 1])), b: shift };
    });
  }
  apply(x: Tensor, training: boolean): Tensor {
    return tf.tidy(() => {
      if (!this.bn.usesRunningStats(training)) return this.bn.apply(this.conv.apply(x), training);
      const { w, b } = this.fused();
      return conv2dNhwc(x, w, b, this.conv);
    });
  }
}

/** timm `SEModule`: mean over H, W → 1×1 conv → ReLU → 1×1 conv → sigmoid gate. */
class SqueezeExcite {
  readonly fc1: TimmConv2d;
  readonly fc2: TimmConv2d;
  constructor(store: ParamStore, prefix: string, ch: number, rdRatio: number, rdDivisor: number) {
    const rd = makeDivisible(ch * rdRatio, rdDivisor, 0);
    this.fc1 = new TimmConv2d(store, join(prefix, 'fc1'), ch, rd, 1);
    this.fc2 = new TimmConv2d(store, join(prefix, 'fc2'), rd, ch, 1);
  }
  apply(x: Tensor): Tensor {
    return tf.tidy(() => {
      const s = tf.mean(x, [1, 2], true);
      return tf.mul(x, tf.sigmoid(this.fc2.apply(tf.relu(this.fc1.apply(s)))));
    });
  }
}

interface MobileOneOptions {
  stride?: number;
  /** Depthwise (timm group_size=1): groups = in channels. */
  depthwise?: boolean;
  useSe?: boolean;
  useAct?: boolean;
  useScaleBranch?: boolean;
  numConvBranches?: number;
  /** timm's inference_mode: one `reparam_conv` (with bias) instead of the branches. */
  inference?: boolean;
}

/** timm `MobileOneBlock` (train-time): act(se(bn_identity(x) + bn(conv_1×1(x)) + Σ bn(conv_k×k(x)))). */
class MobileOneBlock {
  readonly se: SqueezeExcite | null;
  readonly identity: TimmBatchNorm2d | null;
  readonly convKxk: ConvBn[] = [];
  readonly convScale: ConvBn | null;
  readonly useAct: boolean;
  readonly geometry: ConvGeometry;
  /** The re-parameterised convolution (inference mode), else null. */
  readonly reparam: TimmConv2d | null = null;
  constructor(store: ParamStore, prefix: string, inC: number, outC: number, k: number, o: MobileOneOptions = {}) {
    const stride = o.stride ?? 1;
    const groups = o.depthwise ? inC : 1;
    this.geometry = { inC, outC, k, stride, padding: timmPadding(k, stride), groups };
    this.se = o.useSe ? new SqueezeExcite(store, join(prefix, 'se'), outC, 1 / 16, 1) : null;
    this.useAct = o.useAct ?? true;
    if (o.inference) {
      this.identity = null;
      this.convScale = null;
      this.reparam = new TimmConv2d(store, join(prefix, 'reparam_conv'), inC, outC, k, { stride, groups });
      return;
    }
    this.identity = outC === inC && stride === 1 ? new TimmBatchNorm2d(store, join(prefix, 'identity'), inC) : null;
    const n = o.numConvBranches ?? 1;
    for (let i = 0; i < n; i++) this.convKxk.push(new ConvBn(store, join(prefix, `conv_kxk.${i}`), inC, outC, k, stride, groups));
    this.convScale = k > 1 && (o.useScaleBranch ?? true) ? new ConvBn(store, join(prefix, 'conv_scale'), inC, outC, 1, stride, groups) : null;
  }
  /** Whether every BatchNorm of the block uses running statistics (then the block is one convolution). */
  fusable(training: boolean): boolean {
    const bns = [...this.convKxk.map((c) => c.bn), ...(this.convScale ? [this.convScale.bn] : []), ...(this.identity ? [this.identity] : [])];
    return bns.every((b) => b.usesRunningStats(training));
  }

  /** timm's `_get_kernel_bias`: the k×k branches + the 1×1 branch padded to k×k + the identity BatchNorm as a kernel. */
  fused(): Kernel {
    if (this.reparam) return { w: this.reparam.weight, b: this.reparam.bias! };
    return tf.tidy(() => {
      const { outC, k, groups } = this.geometry;
      const ws: Tensor[] = [];
      const bs: Tensor[] = [];
      for (const c of this.convKxk) {
        const f = c.fused();
        ws.push(f.w);
        bs.push(f.b);
      }
      if (this.convScale) {
        const f = this.convScale.fused();
        ws.push(padKernel(f.w, k));
        bs.push(f.b);
      }
      if (this.identity) {
        const { scale, shift } = this.identity.affine();
        ws.push(tf.mul(identityKernel(outC, k, groups), tf.reshape(scale, [-1, 1, 1, 1])));
        bs.push(shift);
      }
      return { w: ws.length === 1 ? ws[0] : tf.addN(ws), b: bs.length === 1 ? bs[0] : tf.addN(bs) };
    });
  }

  apply(x: Tensor, training: boolean): Tensor {
    return tf.tidy(() => {
      let y: Tensor;
      if (this.reparam) {
        y = this.reparam.apply(x);
      } else if (this.fusable(training)) {
        const { w, b } = this.fused();
        y = conv2dNhwc(x, w, b, this.geometry);
      } else {
        const parts: Tensor[] = [];
        if (this.convScale) parts.push(this.convScale.apply(x, training));
        if (this.identity) parts.push(this.identity.apply(x, training));
        for (const c of this.convKxk) parts.push(c.apply(x, training));
        y = parts.length === 1 ? parts[0] : tf.addN(parts);
      }
      if (this.se) y = this.se.apply(y);
      return this.useAct ? activate(y, 'gelu') : y;
    });
  }
}

/**
 * timm `ReparamLargeKernelConv` (train-time): bn(conv_k(x)) + bn(conv_3(x)), squeeze-excite,
 * optional GELU; in inference mode one `reparam_conv` (registered before `se`, as timm builds it).
 */
class ReparamLargeKernelConv {
  readonly largeConv: ConvBn | null = null;
  readonly smallConv: ConvBn | null = null;
  readonly reparam: TimmConv2d | null = null;
  readonly se: SqueezeExcite | null;
  constructor(store: ParamStore, prefix: string, inC: number, outC: number, k: number, stride: number, useSe: boolean, readonly useAct: boolean,
    inference: boolean) {
    if (inference) {
      this.reparam = new TimmConv2d(store, join(prefix, 'reparam_conv'), inC, outC, k, { stride, groups: inC });
    } else {
      this.largeConv = new ConvBn(store, join(prefix, 'large_conv'), inC, outC, k, stride, inC);
      this.smallConv = new ConvBn(store, join(prefix, 'small_conv'), inC, outC, 3, stride, inC);
    }
    this.se = useSe ? new SqueezeExcite(store, join(prefix, 'se'), outC, 0.25, 8) : null;
  }
  apply(x: Tensor, training: boolean): Tensor {
    return tf.tidy(() => {
      let y: Tensor;
      if (this.reparam) {
        y = this.reparam.apply(x);
      } else if (!this.largeConv || !this.smallConv) {
        throw new Error('ReparamLargeKernelConv without branches');
      } else if (this.largeConv.bn.usesRunningStats(training) && this.smallConv.bn.usesRunningStats(training)) {
        // timm's get_kernel_bias: the small kernel padded into the large one
        const l = this.largeConv.fused();
        const s = this.smallConv.fused();
        y = conv2dNhwc(x, tf.add(l.w, padKernel(s.w, this.largeConv.conv.k)), tf.add(l.b, s.b), this.largeConv.conv);
      } else {
        y = tf.add(this.largeConv.apply(x, training), this.smallConv.apply(x, training));
      }
      if (this.se) y = this.se.apply(y);
      return this.useAct ? activate(y, 'gelu') : y;
    });
  }
}

/** timm `LayerScale2d` (`gamma` [C, 1, 1]) on NHWC activations. */
class LayerScale2d {
  readonly gamma: tf.Variable;
  constructor(store: ParamStore, prefix: string, readonly dim: number, init: number) {
    this.gamma = store.param(join(prefix, 'gamma'), [dim, 1, 1], constant(init));
  }
  apply(x: Tensor): Tensor {
    return tf.mul(x, tf.reshape(this.gamma, [this.dim]));
  }
}

/** timm `ConvMlp`: bn(dw 7×7) → 1×1 → GELU → 1×1. */
class ConvMlp {
  readonly conv: ConvBn;
  readonly fc1: TimmConv2d;
  readonly fc2: TimmConv2d;
  constructor(store: ParamStore, prefix: string, dim: number, hidden: number) {
    const init = { weight: truncNormal(0.02), bias: zeros };
    this.conv = new ConvBn(store, join(prefix, 'conv'), dim, dim, 7, 1, dim);
    this.fc1 = new TimmConv2d(store, join(prefix, 'fc1'), dim, hidden, 1, { init });
    this.fc2 = new TimmConv2d(store, join(prefix, 'fc2'), hidden, dim, 1, { init });
  }
  apply(x: Tensor, training: boolean): Tensor {
    return tf.tidy(() => this.fc2.apply(activate(this.fc1.apply(this.conv.apply(x, training)), 'gelu')));
  }
}

/** Stochastic depth of one block (timm DropPath, train mode). */
interface BlockDrop {
  rate: number;
  rng: Rng;
}

const maybeDrop = (x: Tensor, training: boolean, d: BlockDrop): Tensor => (training && d.rate > 0 ? dropPath(x, d.rate, d.rng) : x);

/** timm `RepMixerBlock`: x + γ·(mixer(x) − norm(x)) (RepMixer), then x + drop_path(γ·ConvMlp(x)). */
class RepMixerBlock {
  readonly norm: MobileOneBlock | null = null;
  readonly mixer: MobileOneBlock | null = null;
  readonly mixerScale: LayerScale2d | null = null;
  /** Inference mode: the whole RepMixer as `token_mixer.reparam_conv` (depthwise k×k, padding k // 2). */
  readonly reparam: TimmConv2d | null = null;
  readonly mlp: ConvMlp;
  readonly layerScale: LayerScale2d | null;
  constructor(store: ParamStore, prefix: string, dim: number, k: number, mlpRatio: number, ls: number | null, readonly drop: BlockDrop, inference: boolean) {
    const tm = join(prefix, 'token_mixer');
    if (inference) {
      this.reparam = new TimmConv2d(store, join(tm, 'reparam_conv'), dim, dim, k, { groups: dim, padding: Math.floor(k / 2) });
    } else {
      this.norm = new MobileOneBlock(store, join(tm, 'norm'), dim, dim, k, { depthwise: true, useAct: false, useScaleBranch: false, numConvBranches: 0 });
      this.mixer = new MobileOneBlock(store, join(tm, 'mixer'), dim, dim, k, { depthwise: true, useAct: false });
      this.mixerScale = ls !== null ? new LayerScale2d(store, join(tm, 'layer_scale'), dim, ls) : null;
    }
    this.mlp = new ConvMlp(store, join(prefix, 'mlp'), dim, Math.floor(dim * mlpRatio));
    this.layerScale = ls !== null ? new LayerScale2d(store, join(prefix, 'layer_scale'), dim, ls) : null;
  }
  /** RepMixer as timm's `reparameterize()` builds it: identity + γ·(K_mixer − K_norm) in one depthwise conv. */
  private fusedMixer(mixer: MobileOneBlock, norm: MobileOneBlock): Kernel {
    return tf.tidy(() => {
      const m = mixer.fused();
      const n = norm.fused();
      let w = tf.sub(m.w, n.w);
      let b = tf.sub(m.b, n.b);
      if (this.mixerScale) {
        const g = tf.reshape(this.mixerScale.gamma, [-1]);
        w = tf.mul(w, tf.reshape(g, [-1, 1, 1, 1]));
        b = tf.mul(b, g);
      }
      const { outC, k, groups } = mixer.geometry;
      return { w: tf.add(w, identityKernel(outC, k, groups)), b };
    });
  }

  apply(x: Tensor, training: boolean): Tensor {
    return tf.tidy(() => {
      let x1: Tensor;
      const { mixer, norm } = this;
      if (this.reparam) {
        x1 = this.reparam.apply(x);
      } else if (!mixer || !norm) {
        throw new Error('RepMixer without branches');
      } else if (mixer.fusable(training) && norm.fusable(training)) {
        const { w, b } = this.fusedMixer(mixer, norm);
        x1 = conv2dNhwc(x, w, b, mixer.geometry);
      } else {
        let d = tf.sub(mixer.apply(x, training), norm.apply(x, training));
        if (this.mixerScale) d = this.mixerScale.apply(d);
        x1 = tf.add(x, d);
      }
      let m = this.mlp.apply(x1, training);
      if (this.layerScale) m = this.layerScale.apply(m);
      return tf.add(x1, maybeDrop(m, training, this.drop));
    });
  }
}

/** timm FastViT `AttentionBlock`: x + drop_path(γ1·attn(bn(x))) over the H·W tokens (head_dim 32, no qkv bias), then x + drop_path(γ2·ConvMlp(x)). */
class AttentionBlock {
  readonly norm: TimmBatchNorm2d;
  readonly attn: TimmAttention;
  readonly ls1: LayerScale2d | null;
  readonly mlp: ConvMlp;
  readonly ls2: LayerScale2d | null;
  constructor(store: ParamStore, prefix: string, dim: number, mlpRatio: number, ls: number | null, readonly drop: BlockDrop) {
    if (dim % 32 !== 0) throw new Error(`${prefix}: FastViT attention needs a width divisible by head_dim 32, got ${dim}`);
    this.norm = new TimmBatchNorm2d(store, join(prefix, 'norm'), dim);
    this.attn = new TimmAttention(store, join(prefix, 'token_mixer'), dim, dim / 32, { qkvBias: false, qkNorm: false, eps: 1e-5 });
    this.ls1 = ls !== null ? new LayerScale2d(store, join(prefix, 'layer_scale_1'), dim, ls) : null;
    this.mlp = new ConvMlp(store, join(prefix, 'mlp'), dim, Math.floor(dim * mlpRatio));
    this.ls2 = ls !== null ? new LayerScale2d(store, join(prefix, 'layer_scale_2'), dim, ls) : null;
  }
  apply(x: Tensor, training: boolean): Tensor {
    return tf.tidy(() => {
      const [b, h, w, c] = x.shape as [number, number, number, number];
      let a = tf.reshape(this.attn.apply(tf.reshape(this.norm.apply(x, training), [b, h * w, c])), [b, h, w, c]);
      if (this.ls1) a = this.ls1.apply(a);
      const x1 = tf.add(x, maybeDrop(a, training, this.drop));
      let m = this.mlp.apply(x1, training);
      if (this.ls2) m = this.ls2.apply(m);
      return tf.add(x1, maybeDrop(m, training, this.drop));
    });
  }
}

/** One FastViT stage: PatchEmbed downsample (large-kernel conv + 1×1 MobileOne), RepCPE, blocks. */
class FastVitStage {
  readonly downLkc: ReparamLargeKernelConv | null = null;
  readonly downMob: MobileOneBlock | null = null;
  readonly posEnc: TimmConv2d | null = null;
  readonly posEncFused: boolean;
  readonly blocks: (RepMixerBlock | AttentionBlock)[] = [];
  constructor(store: ParamStore, prefix: string, a: Required<FastVitArgs>, i: number, inC: number, downsample: boolean, drops: BlockDrop[]) {
    const dim = a.embed_dims[i];
    if (downsample) {
      const p = join(prefix, 'downsample.proj');
      this.downLkc = new ReparamLargeKernelConv(store, join(p, '0'), inC, dim, a.down_patch_size, a.down_stride, a.se_downsamples[i], a.lkc_use_act, a.inference_mode);
      this.downMob = new MobileOneBlock(store, join(p, '1'), dim, dim, 1, { inference: a.inference_mode });
    } else if (inC !== dim) {
      throw new Error(`${prefix}: a stage without downsample needs equal widths (${inC} → ${dim})`);
    }
    const pk = a.pos_embs[i];
    // RepCPE: `pos_enc` (applied as x + pos_enc(x)), or in inference mode `reparam_conv` (the identity folded in)
    if (pk) this.posEnc = new TimmConv2d(store, join(prefix, a.inference_mode ? 'pos_emb.reparam_conv' : 'pos_emb.pos_enc'), dim, dim, pk, { groups: dim, padding: Math.floor(pk / 2) });
    this.posEncFused = a.inference_mode;
    for (let j = 0; j < a.layers[i]; j++) {
      const bp = join(prefix, `blocks.${j}`);
      const mixer = a.token_mixers[i];
      if (mixer === 'repmixer') this.blocks.push(new RepMixerBlock(store, bp, dim, a.repmixer_kernel_size, a.mlp_ratios[i], a.layer_scale_init_value, drops[j], a.inference_mode));
      else if (mixer === 'attention') this.blocks.push(new AttentionBlock(store, bp, dim, a.mlp_ratios[i], a.layer_scale_init_value, drops[j]));
      else throw new Error(`${prefix}: token mixer '${String(mixer)}' is not supported (repmixer, attention)`);
    }
  }
  apply(x: Tensor, training: boolean): Tensor {
    return tf.tidy(() => {
      let y = x;
      if (this.downLkc && this.downMob) y = this.downMob.apply(this.downLkc.apply(y, training), training);
      // RepCPE: pos_enc(x) + x as one depthwise conv with the identity in its kernel
      if (this.posEnc && this.posEncFused) y = this.posEnc.apply(y);
      else if (this.posEnc) y = conv2dNhwc(y, tf.add(this.posEnc.weight, identityKernel(this.posEnc.outC, this.posEnc.k, this.posEnc.groups)), this.posEnc.bias, this.posEnc);
      for (const b of this.blocks) y = b.apply(y, training);
      return y;
    });
  }
}

export interface FastVitTrunkOptions {
  imageSize: [number, number];
  /** timm `num_classes`: the `head.fc` width, 0 for none. */
  numClasses: number;
  /** timm `global_pool` (ClassifierHead pool type). */
  globalPool?: string;
  /** timm `drop_path_rate`: stochastic depth rising linearly over all blocks (train mode); 0 when omitted. */
  dropPathRate?: number;
  /** Draws of the stochastic depth. */
  rng?: Rng;
}

/** timm `FastVit` (classification form: stem, stages, final_conv, head). */
export class TimmFastVit {
  readonly family = 'fastvit' as const;
  readonly imageSize: [number, number];
  readonly numFeatures: number;
  readonly globalPool: string;
  training = false;
  readonly stem: MobileOneBlock[];
  readonly stages: FastVitStage[] = [];
  readonly finalConv: MobileOneBlock;
  readonly head: TimmLinear | null;

  constructor(store: ParamStore, readonly prefix: string, args: FastVitArgs, o: FastVitTrunkOptions) {
    const n = args.layers.length;
    const a: Required<FastVitArgs> = {
      pos_embs: Array(n).fill(null), downsamples: [false, ...Array(n - 1).fill(true)], se_downsamples: Array(n).fill(false),
      repmixer_kernel_size: 3, down_patch_size: 7, down_stride: 2, layer_scale_init_value: 1e-5, lkc_use_act: false,
      stem_use_scale_branch: true, cls_ratio: 2, global_pool: 'avg', inference_mode: false, ...args,
    };
    for (const [k, v] of [['embed_dims', a.embed_dims], ['mlp_ratios', a.mlp_ratios], ['token_mixers', a.token_mixers], ['pos_embs', a.pos_embs], ['downsamples', a.downsamples], ['se_downsamples', a.se_downsamples]] as const) {
      if (v.length !== n) throw new Error(`${prefix}: FastVit ${k} has ${v.length} entries for ${n} stages`);
    }
    this.imageSize = o.imageSize;
    const pool = o.globalPool ?? a.global_pool;
    if (!(FASTVIT_POOLS as readonly string[]).includes(pool)) throw new Error(`${prefix}: timm global_pool '${pool}' is not supported for FastViT (${FASTVIT_POOLS.join(', ')})`);
    this.globalPool = pool;
    const c0 = a.embed_dims[0];
    const stemScale = a.stem_use_scale_branch;
    this.stem = [
      new MobileOneBlock(store, join(prefix, 'stem.0'), 3, c0, 3, { stride: 2, useScaleBranch: stemScale, inference: a.inference_mode }),
      new MobileOneBlock(store, join(prefix, 'stem.1'), c0, c0, 3, { stride: 2, depthwise: true, useScaleBranch: stemScale, inference: a.inference_mode }),
      new MobileOneBlock(store, join(prefix, 'stem.2'), c0, c0, 1, { useScaleBranch: stemScale, inference: a.inference_mode }),
    ];
    let prev = c0;
    const rate = o.dropPathRate ?? 0;
    if (rate > 0 && !o.rng) throw new Error(`${prefix}: drop_path_rate ${rate} needs an rng`);
    const rates = dropPathRates(rate, a.layers);
    for (let i = 0; i < n; i++) {
      const down = a.downsamples[i] || prev !== a.embed_dims[i];
      const drops = rates[i].map((r) => ({ rate: r, rng: o.rng! }));
      this.stages.push(new FastVitStage(store, join(prefix, `stages.${i}`), a, i, prev, down, drops));
      prev = a.embed_dims[i];
    }
    const final = Math.floor(prev * a.cls_ratio);
    this.finalConv = new MobileOneBlock(store, join(prefix, 'final_conv'), prev, final, 3, { depthwise: true, useSe: true, inference: a.inference_mode });
    this.numFeatures = final;
    this.head = o.numClasses > 0 ? new TimmLinear(store, join(prefix, 'head.fc'), final, o.numClasses, true) : null;
    if (o.numClasses > 0) this.numFeatures = o.numClasses;
  }

  /** timm's FastVit `group_matcher`: stem; per stage, downsample + pos_emb with block 0, then one group per block; the rest last. */
  groupRules(): GroupRule[] {
    return [
      { re: /stem/, ordinal: 0, indexed: false },
      { re: /stages\.(\d+).downsample/, ordinal: 1, indexed: true, suffix: [0] },
      { re: /stages\.(\d+).pos_emb/, ordinal: 1, indexed: true, suffix: [0] },
      { re: /stages\.(\d+)\.\w+\.(\d+)/, ordinal: 1, indexed: true },
    ];
  }

  /** NCHW images → pooled features (before the head); with `hook`: stem_out, stage<i>_out, final_conv_out (NHWC), pooled. */
  forwardFeatures(images: Tensor, hook?: ActivationHook): Tensor {
    return tf.tidy(() => {
      let x = tf.transpose(images, [0, 2, 3, 1]);
      for (const s of this.stem) x = s.apply(x, this.training);
      hook?.('stem_out', x);
      this.stages.forEach((st, i) => {
        x = st.apply(x, this.training);
        hook?.(`stage${i}_out`, x);
      });
      x = this.finalConv.apply(x, this.training);
      hook?.('final_conv_out', x);
      let pooled: Tensor;
      if (this.globalPool === 'avg') pooled = tf.mean(x, [1, 2]);
      else if (this.globalPool === 'max') pooled = tf.max(x, [1, 2]);
      else pooled = tf.mul(tf.add(tf.mean(x, [1, 2]), tf.max(x, [1, 2])), 0.5);
      hook?.('pooled', pooled);
      return pooled;
    });
  }

  forward(images: Tensor, hook?: ActivationHook): Tensor {
    return tf.tidy(() => {
      const pooled = this.forwardFeatures(images, hook);
      return this.head ? this.head.apply(pooled) : pooled;
    });
  }

  dispose(): void {}
}
