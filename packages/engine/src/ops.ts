/**
 * The neural-network operations model and loss code is written against. Each is one seam
 * where the engine can substitute a fused or native implementation (with its gradient) on a
 * backend that has one; the definitions here are the reference semantics, equal to PyTorch's.
 */
import { tf } from './tf.js';
import type { Tensor } from './tf.js';
import { GELU, LAYER_NORM, fusedOpsActive } from './accel/fused-kernels.js';
import { ATTENTION, fusedAttentionFits } from './accel/fused-attention.js';
import { SPLIT_QKV } from './accel/fused-heads.js';
import { BATCH_NORM, fusedBatchNormActive } from './accel/batch-norm-kernels.js';
import { GROUPED_CONV, groupedConvActive } from './accel/grouped-conv.js';
import type { ConvPad } from './accel/grouped-conv.js';

/** `x · weightᵀ + bias` with PyTorch's nn.Linear layout: weight [out, in], x [..., in]. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return tf.tidy(() => {
    const inF = weight.shape[1]!;
    const outF = weight.shape[0]!;
    const lead = x.shape.slice(0, -1);
    const x2 = x.rank === 2 ? x : tf.reshape(x, [-1, inF]);
    // The engine replaces wasm 4.22's _FusedMatMul (its bias is wrong on the transposed path); on the
    // openblas tier the bias is folded into the sgemm.
    const y2 = tf.fused.matMul({ a: x2, b: weight, transposeB: true, bias: bias ?? undefined });
    return x.rank === 2 ? y2 : tf.reshape(y2, [...lead, outF]);
  });
}

/** Layer normalisation over the last axis (nn.LayerNorm, biased variance). */
export function layerNorm(x: Tensor, gamma: Tensor | null, beta: Tensor | null, eps = 1e-5): Tensor {
  const C = x.shape[x.rank - 1]!;
  if (fusedOpsActive() && gamma && beta && x.dtype === 'float32' && gamma.size === C && beta.size === C && gamma.rank === 1 && beta.rank === 1) {
    return tf.tidy(() => (tf.engine().runKernel(LAYER_NORM, { x, gamma, beta }, { eps }) as Tensor[])[0]);
  }
  return tf.tidy(() => {
    const axis = x.rank - 1;
    const { mean, variance } = tf.moments(x, axis, true);
    let y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
    if (gamma) y = tf.mul(y, gamma);
    if (beta) y = tf.add(y, beta);
    return y;
  });
}

/**
 * Training-mode batch normalisation over the last axis (nn.BatchNorm2d on NHWC activations):
 * y = (x − μ)/√(σ² + eps)·γ + β with the batch mean μ and biased variance σ² over every other
 * axis, which are returned too (for the running statistics).
 */
export function batchNormTrain(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): { y: Tensor; mean: Tensor; variance: Tensor } {
  const C = x.shape[x.rank - 1]!;
  if (fusedBatchNormActive() && x.dtype === 'float32' && gamma.rank === 1 && beta.rank === 1 && gamma.size === C && beta.size === C) {
    const [y, mean, variance] = tf.engine().runKernel(BATCH_NORM, { x, gamma, beta }, { eps }) as Tensor[];
    return { y, mean, variance };
  }
  return tf.tidy(() => {
    const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
    const { mean, variance } = tf.moments(x, axes);
    const y = tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), gamma), beta);
    return { y, mean, variance };
  }) as unknown as { y: Tensor; mean: Tensor; variance: Tensor };
}

/**
 * A grouped 2-D convolution (nn.Conv2d with `groups`) on NHWC input [N, H, W, CI] with a
 * [KH, KW, CI/groups, CO] filter: output channel o reads the input channels of group
 * ⌊o / (CO/groups)⌋. Dilation 1; `pad` as tf.conv2d takes it. The addon's kernels run it (and its
 * gradients) on the openblas tier; otherwise one convolution per group.
 */
export function groupedConv2d(x: Tensor, filter: Tensor, strides: number | [number, number], pad: ConvPad, groups: number): Tensor {
  const [, , inPer, co] = filter.shape as [number, number, number, number];
  const ci = x.shape[3]!;
  if (x.rank !== 4 || filter.rank !== 4) throw new Error(`groupedConv2d: expected NHWC input and a [KH, KW, CI/groups, CO] filter, got [${x.shape}] and [${filter.shape}]`);
  if (!Number.isInteger(groups) || groups < 1 || ci % groups !== 0 || co % groups !== 0 || inPer * groups !== ci) {
    throw new Error(`groupedConv2d: groups=${groups} does not fit input channels ${ci} and filter [${filter.shape}]`);
  }
  const s: [number, number] = typeof strides === 'number' ? [strides, strides] : strides;
  if (groups === 1) return tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, s, pad);
  if (groupedConvActive() && x.dtype === 'float32' && filter.dtype === 'float32') {
    return tf.engine().runKernel(GROUPED_CONV, { x, filter }, { strides: s, pad, groups } as never) as Tensor;
  }
  return tf.tidy(() => {
    const xs = tf.split(x, groups, 3);
    const fs = tf.split(filter, groups, 3);
    return tf.concat(xs.map((xg, i) => tf.conv2d(xg as tf.Tensor4D, fs[i] as tf.Tensor4D, s, pad)), 3);
  });
}

/** Exact GELU, x·Φ(x) (nn.GELU with approximate='none'). */
export function gelu(x: Tensor): Tensor {
  if (fusedOpsActive() && x.dtype === 'float32') return tf.engine().runKernel(GELU, { x }, {}) as Tensor;
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)));
}

/** OpenAI's QuickGELU, x·σ(1.702x). */
export function quickGelu(x: Tensor): Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(tf.mul(x, 1.702))));
}

export interface AttentionOptions {
  /** Additive mask broadcastable to [B, H, Tq, Tk] (use -Infinity to block). */
  mask?: Tensor | null;
  /** Defaults to 1/sqrt(head dim). */
  scale?: number;
}

/** softmax(q·kᵀ·scale + mask)·v for q [B,H,Tq,d], k,v [B,H,Tk,d] (scaled dot-product attention). */
export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  return tf.tidy(() => {
    const d = q.shape[q.rank - 1]!;
    const scale = options.scale ?? 1 / Math.sqrt(d);
    if (fusedOpsActive() && fusedAttentionFits(q, k, v, options.mask)) {
      const mask = options.mask ?? null;
      const inputs: tf.NamedTensorMap = mask ? { q, k, v, mask } : { q, k, v };
      return (tf.engine().runKernel(ATTENTION, inputs, { scale, maskShape: mask ? mask.shape : null } as never) as Tensor[])[0];
    }
    let s = tf.matMul(tf.mul(q, scale), k, false, true);
    if (options.mask) s = tf.add(s, options.mask);
    return tf.matMul(tf.softmax(s), v);
  });
}

/**
 * Packed q|k|v projections [B, T, 3·H·d] → q, k, v as [B, H, T, d]. One kernel each way on the
 * accelerated tiers; elsewhere one rank-5 transpose plus an unstack along the leading axis
 * (several times faster on cpu/wasm than a last-axis split followed by three head transposes).
 */
export function splitQkvHeads(qkv: Tensor, heads: number): [Tensor, Tensor, Tensor] {
  if (qkv.rank !== 3 || (qkv.shape[2] as number) % (3 * heads) !== 0) {
    throw new Error(`splitQkvHeads: expected [B, T, 3·H·d] with H = ${heads}, got [${qkv.shape}]`);
  }
  const [b, t, e3] = qkv.shape as [number, number, number];
  if (fusedOpsActive() && qkv.dtype === 'float32') {
    return tf.engine().runKernel(SPLIT_QKV, { qkv }, { heads, shape: [b, t, e3] } as never) as unknown as [Tensor, Tensor, Tensor];
  }
  return tf.tidy(() => {
    const parts = tf.unstack(tf.transpose(tf.reshape(qkv, [b, t, 3, heads, e3 / 3 / heads]), [2, 0, 3, 1, 4]));
    return [parts[0], parts[1], parts[2]] as [Tensor, Tensor, Tensor];
  });
}
