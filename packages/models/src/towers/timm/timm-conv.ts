/**
 * Convolution building blocks of timm's convolutional and hybrid trunks, on NHWC activations with
 * PyTorch's weight layout kept in the parameter store: `nn.Conv2d` (dense, depthwise or grouped,
 * symmetric zero padding, optional bias), `nn.BatchNorm2d` that lock_image_tower can freeze, and
 * `nn.AvgPool2d` with `count_include_pad=False`.
 */
import { ops, tf } from '@openclip/engine';
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

  /** Whether this layer normalises with its running statistics (eval mode, or frozen). */
  usesRunningStats(training: boolean): boolean {
    return !training || this.frozen;
  }

  /** The running-statistics affine map y = x·scale + shift ([C] each), differentiable in weight and bias. */
  affine(): { scale: Tensor; shift: Tensor } {
    return tf.tidy(() => {
      const scale = tf.mul(this.weight, tf.rsqrt(tf.add(this.runningVar, 1e-5)));
      return { scale, shift: tf.sub(this.bias, tf.mul(this.runningMean, scale)) };
    });
  }
}

/** Geometry of a convolution on NHWC input with a [out, in/groups, k, k] weight. */
export interface ConvGeometry {
  inC: number;
  outC: number;
  k: number;
  stride: number;
  padding: number;
  /** 1 (dense), inC (depthwise when out = inC · multiplier) or another divisor of inC and outC (grouped). */
  groups: number;
}

/** Whether a geometry is depthwise: one group per input channel, out = in · multiplier. */
export function isDepthwise(g: ConvGeometry): boolean {
  return g.groups > 1 && g.groups === g.inC && g.outC % g.inC === 0;
}

/**
 * nn.functional.conv2d on NHWC input with a PyTorch-layout weight (+ bias): dense and depthwise
 * through TF.js' ops, other group counts through the engine's `groupedConv2d` (the addon's
 * kernels on the openblas tier, one convolution per group elsewhere).
 */
export function conv2dNhwc(x: Tensor, weight: Tensor, bias: Tensor | null, g: ConvGeometry): Tensor {
  return tf.tidy(() => {
    const p = g.padding;
    const pad: Pads | 'valid' = p === 0 ? 'valid' : [[0, 0], [p, p], [p, p], [0, 0]];
    let y: Tensor;
    if (g.groups > 1 && !isDepthwise(g)) {
      // [out, in/groups, k, k] → [k, k, in/groups, out]
      y = ops.groupedConv2d(x, tf.transpose(weight, [2, 3, 1, 0]), g.stride, pad, g.groups);
    } else if (g.groups > 1) {
      // [in·m, 1, k, k] → [k, k, in, m]
      const m = g.outC / g.inC;
      const filter = tf.transpose(tf.reshape(weight, [g.inC, m, g.k, g.k]), [2, 3, 0, 1]) as tf.Tensor4D;
      y = tf.depthwiseConv2d(x as tf.Tensor4D, filter, g.stride, pad);
    } else if (g.k === 1 && g.stride === 1 && p === 0) {
      const [b, h, w] = x.shape as [number, number, number, number];
      const mm = tf.matMul(tf.reshape(x, [b * h * w, g.inC]), tf.reshape(weight, [g.outC, g.inC]), false, true);
      y = tf.reshape(mm, [b, h, w, g.outC]);
    } else {
      const filter = tf.transpose(weight, [2, 3, 1, 0]) as tf.Tensor4D; // [k, k, in, out]
      y = tf.conv2d(x as tf.Tensor4D, filter, g.stride, pad);
    }
    return bias ? tf.add(y, bias) : y;
  });
}

/**
 * A [out, in/groups, k, k] kernel that passes channel i through unchanged (the identity branch of
 * a re-parameterised block): channel i is input i % (channels/groups) of its group.
 */
export function identityKernel(channels: number, k: number, groups: number): Tensor {
  const inPer = channels / groups;
  const data = new Float32Array(channels * inPer * k * k);
  const c = Math.floor(k / 2);
  for (let i = 0; i < channels; i++) data[((i * inPer + (i % inPer)) * k + c) * k + c] = 1;
  return tf.tensor4d(data, [channels, inPer, k, k]);
}

/** Zero-pads a [out, in, s, s] kernel to k×k (centred). */
export function padKernel(w: Tensor, k: number): Tensor {
  const s = w.shape[2]!;
  if (s === k) return w;
  const p = (k - s) / 2;
  return tf.pad(w, [[0, 0], [0, 0], [p, p], [p, p]]);
}

/** The TimmBatchNorm2d layers created in `store` under `prefix.` */
export function timmBatchNormsUnder(store: ParamStore, prefix: string): TimmBatchNorm2d[] {
  return (batchNorms.get(store) ?? []).filter((b) => b.prefix.startsWith(`${prefix}.`));
}

export interface TimmConvOptions {
  stride?: number;
  /** Symmetric zero padding; timm's default `((stride - 1) + (k - 1)) // 2` when omitted. */
  padding?: number;
  /** 1 (dense), the input channel count (depthwise, out = in · multiplier) or another common divisor (grouped). */
  groups?: number;
  bias?: boolean;
  /** PyTorch's default (kaiming-uniform weight, fan-in bias) for what is not given. */
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

/**
 * nn.Conv2d (square kernel, dilation 1) under `<prefix>.weight` [out, in/groups, k, k] and
 * `<prefix>.bias`, applied to NHWC input: dense, depthwise or grouped (see conv2dNhwc). The one
 * Conv2d of every timm trunk here (ConvNeXt, FastViT, ViTamin, ConvStem).
 */
export class TimmConv2d implements ConvGeometry {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
  readonly stride: number;
  readonly padding: number;
  readonly groups: number;
  constructor(store: ParamStore, readonly prefix: string, readonly inC: number, readonly outC: number, readonly k: number, o: TimmConvOptions = {}) {
    this.groups = o.groups ?? 1;
    if (!Number.isInteger(this.groups) || this.groups < 1 || inC % this.groups !== 0 || outC % this.groups !== 0) {
      throw new Error(`${prefix}: ${inC} in / ${outC} out channels are not divisible by groups=${this.groups}`);
    }
    this.stride = o.stride ?? 1;
    this.padding = o.padding ?? timmPadding(k, this.stride);
    const fanIn = (inC / this.groups) * k * k;
    this.weight = store.param(join(prefix, 'weight'), [outC, inC / this.groups, k, k], o.init?.weight ?? torchDefaultWeight(fanIn));
    this.bias = (o.bias ?? true) ? store.param(join(prefix, 'bias'), [outC], o.init?.bias ?? torchDefaultBias(fanIn)) : null;
  }

  apply(x: Tensor): Tensor {
    return tf.tidy(() => {
      if (x.rank !== 4 || x.shape[3] !== this.inC) throw new Error(`${this.prefix}: expected NHWC input with ${this.inC} channels, got [${x.shape}]`);
      return conv2dNhwc(x, this.weight, this.bias, this);
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
