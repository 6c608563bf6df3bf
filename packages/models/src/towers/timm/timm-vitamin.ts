/**
 * timm's ViTamin (timm/models/vitamin.py): a VisionTransformer whose patch embedding is a
 * convolutional backbone (`patch_embed.backbone`: `MbConvStages` — a 2-conv stem, MBConv stages
 * with pre-LayerNorm2d inverted bottlenecks, and a LayerNorm2d + strided 3×3 conv down to the
 * transformer width) and whose blocks use a GeGLU MLP (`GeGluMlp` in timm-layers.ts). The timm
 * names of the ViTamin sizes are in timm-hybrid-models.ts.
 */
import { tf } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import { torchDefaultBias, torchDefaultWeight } from '../../init/initializers.js';
import { LayerNorm, activate } from '../layers.js';
import type { ActivationName } from '../layers.js';
import { join } from '../params.js';
import type { ParamStore } from '../params.js';
import type { ActivationHook } from '../vision-transformer.js';
import { TimmConv2d, avgPoolExcludePad, fanOutNormal } from './timm-conv.js';

/** timm's `VitCfg` of the ViTamin conv backbone (stage widths, depths, stem width). */
export interface VitaminEmbedCfg {
  /** Widths of the two MBConv stages, then the transformer width. */
  embed_dim: [number, number, number];
  /** Blocks in the two MBConv stages (a third entry, if present, is unused by timm). */
  depths: number[];
  stem_width: number;
}

const LN2D_EPS = 1e-6;

/** timm `make_divisible(v, divisor, round_limit)`: v rounded to a multiple of `divisor`, raised by one step when below round_limit·v. */
export function makeDivisible(v: number, divisor = 8, roundLimit = 0.9): number {
  const n = Math.max(divisor, Math.floor(Math.floor(v + divisor / 2) / divisor) * divisor);
  return n < roundLimit * v ? n + divisor : n;
}

/** ViTamin `Stem`: conv 3×3/2 → LayerNorm2d + GELU → conv 3×3. */
class VitaminStem {
  readonly conv1: TimmConv2d;
  readonly norm1: LayerNorm;
  readonly conv2: TimmConv2d;
  constructor(store: ParamStore, prefix: string, inC: number, outC: number, readonly act: ActivationName) {
    this.conv1 = new TimmConv2d(store, join(prefix, 'conv1'), inC, outC, 3, { stride: 2, init: fanOutNormal(outC, 3, 1) });
    this.norm1 = new LayerNorm(store, join(prefix, 'norm1'), outC, LN2D_EPS);
    this.conv2 = new TimmConv2d(store, join(prefix, 'conv2'), outC, outC, 3, { init: fanOutNormal(outC, 3, 1) });
  }
  apply(x: Tensor): Tensor {
    return tf.tidy(() => this.conv2.apply(activate(this.norm1.apply(this.conv1.apply(x)), this.act)));
  }
}

/** ViTamin `MbConvLNBlock`: shortcut (avg-pool 3×3/2 + 1×1 expand, or 1×1, or identity) + [LN2d → 1×1 → GELU → dw k×k (stride) → GELU → 1×1]. */
export class MbConvLNBlock {
  readonly shortcutPool: boolean;
  readonly shortcutConv: TimmConv2d | null;
  readonly preNorm: LayerNorm;
  readonly conv1: TimmConv2d;
  readonly conv2: TimmConv2d;
  readonly conv3: TimmConv2d;
  constructor(store: ParamStore, prefix: string, inC: number, outC: number, readonly stride: number, readonly act: ActivationName, expandRatio = 4, k = 3) {
    const mid = makeDivisible(outC * expandRatio);
    this.shortcutPool = stride === 2;
    if (stride === 2) {
      this.shortcutConv = inC !== outC ? new TimmConv2d(store, join(prefix, 'shortcut.expand'), inC, outC, 1, { init: fanOutNormal(outC, 1, 1) }) : null;
    } else {
      this.shortcutConv = inC !== outC ? new TimmConv2d(store, join(prefix, 'shortcut'), inC, outC, 1, { init: fanOutNormal(outC, 1, 1) }) : null;
    }
    this.preNorm = new LayerNorm(store, join(prefix, 'pre_norm'), inC, LN2D_EPS);
    this.conv1 = new TimmConv2d(store, join(prefix, 'conv1_1x1'), inC, mid, 1, { init: fanOutNormal(mid, 1, 1) });
    this.conv2 = new TimmConv2d(store, join(prefix, 'conv2_kxk'), mid, mid, k, { stride, groups: mid, init: fanOutNormal(mid, k, mid) });
    this.conv3 = new TimmConv2d(store, join(prefix, 'conv3_1x1'), mid, outC, 1, { init: fanOutNormal(outC, 1, 1) });
  }
  apply(x: Tensor): Tensor {
    return tf.tidy(() => {
      let s = this.shortcutPool ? avgPoolExcludePad(x, 3, 2, 1) : x;
      if (this.shortcutConv) s = this.shortcutConv.apply(s);
      let y = this.conv1.apply(this.preNorm.apply(x));
      y = activate(y, this.act);
      y = activate(this.conv2.apply(y), this.act);
      return tf.add(this.conv3.apply(y), s);
    });
  }
}

/** ViTamin `MbConvStages` (the hybrid patch embedding's backbone): NCHW images → NHWC features at stride 16. */
export class VitaminConvStages {
  readonly stem: VitaminStem;
  readonly stages: MbConvLNBlock[][] = [];
  readonly poolProj: TimmConv2d;
  readonly poolNorm: LayerNorm;
  readonly outChannels: number;
  constructor(store: ParamStore, readonly prefix: string, cfg: VitaminEmbedCfg, act: ActivationName) {
    if (cfg.embed_dim.length !== 3 || cfg.depths.length < 2) throw new Error(`${prefix}: embed_cfg needs 3 widths and at least 2 stage depths, got embed_dim [${cfg.embed_dim}] depths [${cfg.depths}]`);
    this.stem = new VitaminStem(store, join(prefix, 'stem'), 3, cfg.stem_width, act);
    for (let s = 0; s < 2; s++) {
      const dim = cfg.embed_dim[s];
      const inC = s > 0 ? cfg.embed_dim[s - 1] : cfg.stem_width;
      const blocks: MbConvLNBlock[] = [];
      for (let d = 0; d < cfg.depths[s]; d++) {
        blocks.push(new MbConvLNBlock(store, join(prefix, `stages.${s}.${d}`), d === 0 ? inC : dim, dim, d === 0 ? 2 : 1, act));
      }
      this.stages.push(blocks);
    }
    // StridedConv registers proj before norm (state_dict order); the norm runs first.
    this.poolProj = new TimmConv2d(store, join(prefix, 'pool.proj'), cfg.embed_dim[1], cfg.embed_dim[2], 3, { stride: 2, padding: 1,
      init: { weight: torchDefaultWeight(cfg.embed_dim[1] * 9), bias: torchDefaultBias(cfg.embed_dim[1] * 9) } });
    this.poolNorm = new LayerNorm(store, join(prefix, 'pool.norm'), cfg.embed_dim[1], LN2D_EPS);
    this.outChannels = cfg.embed_dim[2];
  }

  /** Output grid of an h×w input: four stride-2 3×3 convs with padding 1. */
  static gridOf(size: [number, number]): [number, number] {
    const down = (n: number) => Math.floor((n - 1) / 2) + 1;
    return size.map((n) => down(down(down(down(n))))) as [number, number];
  }

  /** NCHW [B, 3, H, W] → NHWC [B, H/16, W/16, C]; with `hook`: stem_out, stage<i>_out. */
  apply(images: Tensor, _training: boolean, hook?: ActivationHook): Tensor {
    return tf.tidy(() => {
      let x = this.stem.apply(tf.transpose(images, [0, 2, 3, 1]));
      hook?.('stem_out', x);
      this.stages.forEach((blocks, s) => {
        for (const b of blocks) x = b.apply(x);
        hook?.(`stage${s}_out`, x);
      });
      return this.poolProj.apply(this.poolNorm.apply(x));
    });
  }
}
