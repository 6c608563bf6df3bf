/**
 * timm's `ConvStem` (vision_transformer_hybrid.py) as a hybrid ViT's patch embedding backbone
 * (`patch_embed.backbone.<i>`): ConvNormAct layers — conv (no bias) → BatchNorm2d + GELU — and a
 * last conv with bias and neither norm nor activation. MobileCLIP-B's `vit_base_mci_224` uses it.
 */
import { tf } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import { activate } from '../layers.js';
import { join } from '../params.js';
import type { ParamStore } from '../params.js';
import type { ActivationHook } from '../vision-transformer.js';
import { TimmBatchNorm2d, TimmConv2d } from './timm-conv.js';

/** timm `ConvStem` arguments (one entry per layer; padding is explicit). */
export interface ConvStemCfg {
  channels: number[];
  kernel_size: number[];
  stride: number[];
  padding: number;
}

export class TimmConvStem {
  readonly convs: TimmConv2d[] = [];
  readonly bns: (TimmBatchNorm2d | null)[] = [];
  readonly outChannels: number;
  constructor(store: ParamStore, readonly prefix: string, readonly cfg: ConvStemCfg) {
    const n = cfg.channels.length;
    if (cfg.kernel_size.length !== n || cfg.stride.length !== n) throw new Error(`${prefix}: conv_stem channels, kernel_size and stride need one entry per layer`);
    let inC = 3;
    for (let i = 0; i < n; i++) {
      const last = i === n - 1;
      const p = join(prefix, String(i));
      this.convs.push(new TimmConv2d(store, join(p, 'conv'), inC, cfg.channels[i], cfg.kernel_size[i], { stride: cfg.stride[i], padding: cfg.padding, bias: last }));
      this.bns.push(last ? null : new TimmBatchNorm2d(store, join(p, 'bn'), cfg.channels[i]));
      inC = cfg.channels[i];
    }
    this.outChannels = inC;
  }

  /** The feature grid of an input size. */
  static gridOf(cfg: ConvStemCfg, size: [number, number]): [number, number] {
    return size.map((n) => cfg.kernel_size.reduce((m, k, i) => Math.floor((m + 2 * cfg.padding - k) / cfg.stride[i]) + 1, n)) as [number, number];
  }

  /** NCHW images → NHWC features; with `hook`: stem<i>_out per layer. */
  apply(images: Tensor, training: boolean, hook?: ActivationHook): Tensor {
    return tf.tidy(() => {
      let x = tf.transpose(images, [0, 2, 3, 1]);
      this.convs.forEach((conv, i) => {
        x = conv.apply(x);
        const bn = this.bns[i];
        if (bn) x = activate(bn.apply(x, training), 'gelu');
        hook?.(`stem${i}_out`, x);
      });
      return x;
    });
  }
}
