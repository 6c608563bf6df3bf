/**
 * Layers shared by timm's convolutional trunks, run on NHWC activations with parameters in
 * PyTorch's layout and under timm's names: `Conv2d` (dense, grouped or depthwise; weight
 * [out, in/groups, kh, kw]) and NCHW ↔ NHWC conversions. timm's `LayerNorm2d` (over the channels
 * of an NCHW tensor) is the towers' `LayerNorm` on NHWC activations. DropPath and its per-block
 * rates are in timm-layers.ts (shared with the transformer and hybrid trunks).
 */
import { tf } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import type { InitSpec } from '../../init/initializers.js';
import { join } from '../params.js';
import type { ParamStore } from '../params.js';
import { conv2dNhwc, timmPadding } from './timm-conv.js';
import { TIMM_LINEAR } from './timm-layers.js';

export const nchwToNhwc = (x: Tensor): Tensor => tf.transpose(x, [0, 2, 3, 1]);
export const nhwcToNchw = (x: Tensor): Tensor => tf.transpose(x, [0, 3, 1, 2]);

/** timm's conv init in ConvNeXt and Swin: trunc_normal_(std .02), zero bias — the same as its Linear init. */
export const TIMM_CONV_INIT: { weight: InitSpec; bias: InitSpec } = TIMM_LINEAR;

export interface Conv2dOptions {
  stride?: number;
  /** Symmetric zero padding; timm's default ('' → ((stride - 1) + (k - 1)) / 2, floored) when absent. */
  padding?: number;
  groups?: number;
  bias?: boolean;
  init?: { weight: InitSpec; bias: InitSpec };
}

/**
 * nn.Conv2d (square kernel, dilation 1) under `<prefix>.weight` [out, in/groups, k, k] and
 * `<prefix>.bias`, applied to NHWC input (dense and depthwise through timm-conv.ts' `conv2dNhwc`,
 * shared with the hybrid trunks); other group counts run as one convolution per group.
 */
export class TimmConv2d {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
  readonly stride: number;
  readonly padding: number;
  readonly groups: number;
  constructor(store: ParamStore, readonly prefix: string, readonly inC: number, readonly outC: number, readonly k: number, o: Conv2dOptions = {}) {
    this.stride = o.stride ?? 1;
    this.padding = o.padding ?? timmPadding(k, this.stride);
    this.groups = o.groups ?? 1;
    if (inC % this.groups !== 0 || outC % this.groups !== 0) throw new Error(`${prefix}: ${inC} in / ${outC} out channels are not divisible by groups=${this.groups}`);
    const init = o.init ?? TIMM_CONV_INIT;
    this.weight = store.param(join(prefix, 'weight'), [outC, inC / this.groups, k, k], init.weight);
    this.bias = (o.bias ?? true) ? store.param(join(prefix, 'bias'), [outC], init.bias) : null;
  }

  get depthwise(): boolean {
    return this.groups > 1 && this.groups === this.inC && this.outC % this.inC === 0;
  }

  apply(x: Tensor): Tensor {
    if (x.rank !== 4 || x.shape[3] !== this.inC) throw new Error(`${this.prefix}: expected NHWC input with ${this.inC} channels, got [${x.shape}]`);
    if (this.groups === 1 || this.depthwise) return conv2dNhwc(x, this.weight, this.bias, this);
    return tf.tidy(() => {
      // grouped (neither dense nor depthwise): one dense convolution per group
      const xs = tf.split(x, this.groups, 3);
      const ws = tf.split(this.weight, this.groups, 0);
      const g = { inC: this.inC / this.groups, outC: this.outC / this.groups, k: this.k, stride: this.stride, padding: this.padding, depthwise: false };
      const y = tf.concat(xs.map((xg, i) => conv2dNhwc(xg, ws[i], null, g)), 3);
      return this.bias ? tf.add(y, this.bias) : y;
    });
  }
}
