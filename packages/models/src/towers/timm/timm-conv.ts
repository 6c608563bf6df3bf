/**
 * Convolution building blocks of timm's convolutional and hybrid trunks, on NHWC activations with
 * PyTorch's weight layout kept in the parameter store: `nn.Conv2d` (dense or depthwise, symmetric
 * zero padding, optional bias), `nn.BatchNorm2d` that lock_image_tower can freeze, and
 * `nn.AvgPool2d` with `count_include_pad=False`.
 */
import { tf } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import { normal, torchDefaultBias, torchDefaultWeight, zeros } from '../../init/initializers.js';
import type { InitSpec } from '../../init/initializers.js';
import { BatchNorm2d } from '../modified-resnet.js';
import { join } from '../params.js';
import type { ParamStore } from '../params.js';

const batchNorms = new WeakMap<ParamStore, TimmBatchNorm2d[]>();

/**
 * nn.BatchNorm2d of a timm trunk (NHWC) that remembers its name, so OpenCLIP's
 * `lock(freeze_bn_stats=True)` can keep the ones in frozen layer groups on running statistics.
 */
export class TimmBatchNorm2d extends BatchNorm2d {
  /** Running statistics even in train mode (frozen by lock_image_tower with freeze_bn_stats). */
  frozen = false;
  constructor(store: ParamStore, readonly prefix: string, channels: number) {
    super(store, prefix, channels);
    const list = batchNorms.get(store) ?? [];
    list.push(this);
    batchNorms.set(store, list);
  }
  override apply(x: Tensor, training: boolean): Tensor {
    return super.apply(x, training, this.frozen);
  }
}

/** The TimmBatchNorm2d layers created in `store` under `prefix.` */
export function timmBatchNormsUnder(store: ParamStore, prefix: string): TimmBatchNorm2d[] {
  return (batchNorms.get(store) ?? []).filter((b) => b.prefix.startsWith(`${prefix}.`));
}

export interface TimmConvOptions {
  stride?: number;
  /** Symmetric zero padding; timm's default `((stride - 1) + (k - 1)) // 2` when omitted. */
  padding?: number;
  /** 1 (dense) or the input channel count (depthwise, out = in · multiplier). */
  groups?: number;
  bias?: boolean;
  init?: { weight?: InitSpec; bias?: InitSpec };
}

/** timm's `get_padding(k, stride)` for symmetric padding. */
export function timmPadding(k: number, stride: number): number {
  return Math.floor((stride - 1 + (k - 1)) / 2);
}

/** timm's conv init in hybrid/conv models: normal(0, sqrt(2 / fan_out)), zero bias. */
export function fanOutNormal(outC: number, k: number, groups: number): { weight: InitSpec; bias: InitSpec } {
  return { weight: normal(Math.sqrt(2 / Math.floor((k * k * outC) / groups))), bias: zeros };
}

type Pads = [[number, number], [number, number], [number, number], [number, number]];

/** nn.Conv2d: weight [out, in/groups, k, k] (+ bias [out]) applied to NHWC input. */
export class TimmConv2d {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
  readonly stride: number;
  readonly padding: number;
  readonly depthwise: boolean;
  constructor(store: ParamStore, readonly prefix: string, readonly inC: number, readonly outC: number, readonly k: number, o: TimmConvOptions = {}) {
    const groups = o.groups ?? 1;
    if (groups !== 1 && groups !== inC) throw new Error(`${prefix}: groups=${groups} is not supported (1 or the input channels ${inC})`);
    if (groups === inC && inC !== 1 && outC % inC !== 0) throw new Error(`${prefix}: depthwise conv needs out channels ${outC} divisible by ${inC}`);
    this.depthwise = groups !== 1;
    this.stride = o.stride ?? 1;
    this.padding = o.padding ?? timmPadding(k, this.stride);
    const fanIn = (inC / groups) * k * k;
    this.weight = store.param(join(prefix, 'weight'), [outC, inC / groups, k, k], o.init?.weight ?? torchDefaultWeight(fanIn));
    this.bias = (o.bias ?? true) ? store.param(join(prefix, 'bias'), [outC], o.init?.bias ?? torchDefaultBias(fanIn)) : null;
  }

  apply(x: Tensor): Tensor {
    return tf.tidy(() => {
      if (x.rank !== 4 || x.shape[3] !== this.inC) throw new Error(`${this.prefix}: expected NHWC input with ${this.inC} channels, got [${x.shape}]`);
      const p = this.padding;
      const pad: Pads | 'valid' = p === 0 ? 'valid' : [[0, 0], [p, p], [p, p], [0, 0]];
      let y: Tensor;
      if (this.depthwise) {
        // [in·m, 1, k, k] → [k, k, in, m]
        const m = this.outC / this.inC;
        const filter = tf.transpose(tf.reshape(this.weight, [this.inC, m, this.k, this.k]), [2, 3, 0, 1]) as tf.Tensor4D;
        y = tf.depthwiseConv2d(x as tf.Tensor4D, filter, this.stride, pad);
      } else if (this.k === 1 && this.stride === 1 && p === 0) {
        const [b, h, w] = x.shape as [number, number, number, number];
        const m = tf.matMul(tf.reshape(x, [b * h * w, this.inC]), tf.reshape(this.weight, [this.outC, this.inC]), false, true);
        y = tf.reshape(m, [b, h, w, this.outC]);
      } else {
        const filter = tf.transpose(this.weight, [2, 3, 1, 0]) as tf.Tensor4D; // [k, k, in, out]
        y = tf.conv2d(x as tf.Tensor4D, filter, this.stride, pad);
      }
      return this.bias ? tf.add(y, this.bias) : y;
    });
  }
}

/** nn.AvgPool2d(k, stride, padding, count_include_pad=False) on NHWC input: the mean over the window's in-image pixels. */
export function avgPoolExcludePad(x: Tensor, k: number, stride: number, padding: number): Tensor {
  return tf.tidy(() => {
    const [, h, w] = x.shape as [number, number, number, number];
    const padded = padding > 0 ? tf.pad(x, [[0, 0], [padding, padding], [padding, padding], [0, 0]]) : x;
    const sum = tf.mul(tf.avgPool(padded as tf.Tensor4D, k, stride, 'valid'), k * k);
    const oh = sum.shape[1]!;
    const ow = sum.shape[2]!;
    const inside = (o: number, n: number) => Math.min(o * stride - padding + k, n) - Math.max(o * stride - padding, 0);
    const inv = new Float32Array(oh * ow);
    for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) inv[i * ow + j] = 1 / (inside(i, h) * inside(j, w));
    return tf.mul(sum, tf.tensor4d(inv, [1, oh, ow, 1]));
  });
}
