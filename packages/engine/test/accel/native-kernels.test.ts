import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { initEngine } from '../../src/backend.js';
import { tf } from '../../src/tf.js';
import { Rng } from '../../src/rng.js';
import * as ops from '../../src/ops.js';
import { adamwStep } from '../../src/adamw.js';
import { type GemmLibrary, loadNative, selectGemm } from '../../src/accel/native.js';
import { loadOrt } from '../../src/accel/ort.js';
import { setIm2colLimit } from '../../src/accel/complete-kernels.js';
import { releaseMemory } from '../../src/accel/native-backend.js';

// Every overridden kernel of the js and openblas tiers (all matmul transpose/batch/broadcast cases, fused bias + activations,
// transposes, sums, exp/erf, unstack, layer norm / GELU with gradients) against the cpu backend.
type Case = { name: string; inputs: { shape: number[]; dtype?: 'float32' | 'int32' }[]; fn: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[] };

const mm = (ta: boolean, tb: boolean) => (a: tf.Tensor, b: tf.Tensor) => tf.matMul(a, b, ta, tb);
const CASES: Case[] = [
  { name: 'matmul NN 2-D', inputs: [{ shape: [37, 19] }, { shape: [19, 23] }], fn: mm(false, false) },
  { name: 'matmul NT 2-D', inputs: [{ shape: [37, 19] }, { shape: [23, 19] }], fn: mm(false, true) },
  { name: 'matmul TN 2-D', inputs: [{ shape: [19, 37] }, { shape: [19, 23] }], fn: mm(true, false) },
  { name: 'matmul TT 2-D', inputs: [{ shape: [19, 37] }, { shape: [23, 19] }], fn: mm(true, true) },
  { name: 'matmul batched NN', inputs: [{ shape: [3, 4, 9, 5] }, { shape: [3, 4, 5, 7] }], fn: mm(false, false) },
  { name: 'matmul batched NT', inputs: [{ shape: [6, 9, 5] }, { shape: [6, 7, 5] }], fn: mm(false, true) },
  { name: 'matmul batched TN', inputs: [{ shape: [6, 5, 9] }, { shape: [6, 5, 7] }], fn: mm(true, false) },
  { name: 'matmul batched TT', inputs: [{ shape: [6, 5, 9] }, { shape: [6, 7, 5] }], fn: mm(true, true) },
  { name: 'matmul broadcast B', inputs: [{ shape: [4, 9, 5] }, { shape: [5, 7] }], fn: mm(false, false) },
  { name: 'matmul broadcast B (TN)', inputs: [{ shape: [4, 5, 9] }, { shape: [5, 7] }], fn: mm(true, false) },
  { name: 'matmul broadcast A', inputs: [{ shape: [9, 5] }, { shape: [4, 5, 7] }], fn: mm(false, false) },
  { name: 'matmul two-sided broadcast', inputs: [{ shape: [2, 1, 9, 5] }, { shape: [1, 3, 5, 7] }], fn: mm(false, false) },
  { name: 'matmul K=0', inputs: [{ shape: [3, 0] }, { shape: [0, 4] }], fn: mm(false, false) },
  {
    name: 'fused matmul bias + relu (batched, transposed)',
    inputs: [{ shape: [2, 8, 100] }, { shape: [2, 4, 100] }, { shape: [4] }],
    fn: (a, b, bias) => tf.fused.matMul({ a, b, bias, transposeB: true, activation: 'relu' }),
  },
  {
    name: 'fused matmul full-shape bias + sigmoid',
    inputs: [{ shape: [9, 5] }, { shape: [7, 5] }, { shape: [9, 7] }],
    fn: (a, b, bias) => tf.fused.matMul({ a, b, bias, transposeB: true, activation: 'sigmoid' }),
  },
  {
    name: 'fused matmul gradient',
    inputs: [{ shape: [3, 6, 5] }, { shape: [7, 5] }, { shape: [7] }],
    fn: (a, b, bias) => tf.grads((x: tf.Tensor, w: tf.Tensor, c: tf.Tensor) => tf.sum(tf.square(tf.fused.matMul({ a: tf.reshape(x, [18, 5]), b: w, bias: c, transposeB: true, activation: 'relu' }))))([a, b, bias]),
  },
  { name: 'transpose 2-D', inputs: [{ shape: [67, 45] }], fn: (x) => tf.transpose(x) },
  { name: 'transpose rank 3', inputs: [{ shape: [5, 6, 7] }], fn: (x) => tf.transpose(x, [2, 0, 1]) },
  { name: 'transpose rank 5 (qkv split)', inputs: [{ shape: [2, 5, 3, 4, 6] }], fn: (x) => tf.transpose(x, [2, 0, 3, 1, 4]) },
  { name: 'transpose rank 6 (patchify)', inputs: [{ shape: [2, 3, 4, 2, 4, 2] }], fn: (x) => tf.transpose(x, [0, 2, 4, 1, 3, 5]) },
  { name: 'transpose int32 with unit dims', inputs: [{ shape: [1, 5, 1, 7], dtype: 'int32' }], fn: (x) => tf.transpose(x, [3, 2, 1, 0]) },
  { name: 'sum axis 0', inputs: [{ shape: [301, 17] }], fn: (x) => tf.sum(x, 0) },
  { name: 'sum last axis keepDims', inputs: [{ shape: [5, 6, 301] }], fn: (x) => tf.sum(x, -1, true) },
  { name: 'sum middle axes', inputs: [{ shape: [4, 5, 6, 7] }], fn: (x) => tf.sum(x, [1, 2]) },
  { name: 'sum alternating axes', inputs: [{ shape: [4, 5, 6, 7] }], fn: (x) => tf.sum(x, [0, 2]) },
  { name: 'sum all', inputs: [{ shape: [33, 45] }], fn: (x) => tf.sum(x) },
  { name: 'exp', inputs: [{ shape: [1000] }], fn: (x) => tf.exp(tf.mul(x, 20)) },
  { name: 'erf', inputs: [{ shape: [1000] }], fn: (x) => tf.erf(tf.mul(x, 2)) },
  { name: 'unstack axis 1', inputs: [{ shape: [3, 4, 5] }], fn: (x) => tf.unstack(x, 1) },
  { name: 'gather rows (embedding) with gradient', inputs: [{ shape: [11, 6] }], fn: (x) => {
    const ids = tf.tensor2d([[3, 0, 10], [3, 3, 7]], [2, 3], 'int32');
    return [tf.gather(x, ids), tf.grad((w: tf.Tensor) => tf.sum(tf.square(tf.gather(w, ids))))(x)];
  } },
  { name: 'gather on axis 1', inputs: [{ shape: [4, 5, 3] }], fn: (x) => tf.gather(x, tf.tensor1d([4, 0, 2], 'int32'), 1) },
  { name: 'conv2d gradients (stride 2, same padding)', inputs: [{ shape: [3, 9, 9, 4] }, { shape: [3, 3, 4, 5] }], fn: (x, w) =>
    tf.grads((a: tf.Tensor, f: tf.Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, 2, 'same'))))([x, w]) },
  { name: 'conv2d filter gradient (valid, 1x1 and 5x5)', inputs: [{ shape: [2, 8, 7, 3] }, { shape: [5, 5, 3, 2] }, { shape: [1, 1, 3, 6] }], fn: (x, w, w1) => [
    tf.grad((f: tf.Tensor) => tf.sum(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'valid')))(w),
    tf.grad((f: tf.Tensor) => tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, [2, 1], 'same'))))(w1),
  ] },
  { name: 'conv2d filter gradient, chunked im2col', inputs: [{ shape: [5, 6, 6, 3] }, { shape: [3, 3, 3, 4] }], fn: (x, w) => {
    setIm2colLimit(2 * 36 * 27);
    try {
      return tf.grad((f: tf.Tensor) => tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same'))))(w);
    } finally {
      setIm2colLimit(1 << 25);
    }
  } },
  { name: 'conv2d forward and input gradient (3x3 stride 1 and 2, padded; 1x1; 7x7 valid)', inputs: [{ shape: [3, 9, 8, 4] }, { shape: [3, 3, 4, 5] }, { shape: [1, 1, 4, 6] }, { shape: [7, 7, 4, 2] }], fn: (x, w3, w1, w7) => [
    tf.conv2d(x as tf.Tensor4D, w3 as tf.Tensor4D, 1, 'same'),
    tf.conv2d(x as tf.Tensor4D, w3 as tf.Tensor4D, 2, [[0, 0], [1, 1], [1, 1], [0, 0]]),
    tf.conv2d(x as tf.Tensor4D, w1 as tf.Tensor4D, 1, 'valid'),
    tf.conv2d(x as tf.Tensor4D, w7 as tf.Tensor4D, 1, 'valid'),
    ...tf.grads((a: tf.Tensor, f: tf.Tensor, f1: tf.Tensor) => tf.add(
      tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, 2, 'same'))),
      tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, f1 as tf.Tensor4D, 1, 'valid')))))([x, w3, w1]),
  ] },
  // the addon gathers 3x3 patches over 32 channels ~3.6k output rows at a time: stride 1 here spans two blocks
  { name: 'depthwise conv forward and both gradients (7x7 same as ConvNeXt, 3x3 stride 2, 5x5 valid, channel multiplier 2)',
    inputs: [{ shape: [2, 9, 8, 6] }, { shape: [7, 7, 6, 1] }, { shape: [3, 3, 6, 1] }, { shape: [5, 5, 6, 2] }], fn: (x, w7, w3, w5) => [
      tf.depthwiseConv2d(x as tf.Tensor4D, w7 as tf.Tensor4D, 1, [[0, 0], [3, 3], [3, 3], [0, 0]]),
      tf.depthwiseConv2d(x as tf.Tensor4D, w3 as tf.Tensor4D, 2, 'same'),
      tf.depthwiseConv2d(x as tf.Tensor4D, w5 as tf.Tensor4D, [1, 2], 'valid'),
      ...tf.grads((a: tf.Tensor, f7: tf.Tensor, f3: tf.Tensor, f5: tf.Tensor) => tf.add(tf.add(
        tf.sum(tf.square(tf.depthwiseConv2d(a as tf.Tensor4D, f7 as tf.Tensor4D, 1, [[0, 0], [3, 3], [3, 3], [0, 0]]))),
        tf.sum(tf.square(tf.depthwiseConv2d(a as tf.Tensor4D, f3 as tf.Tensor4D, 2, 'same')))),
        tf.sum(tf.square(tf.depthwiseConv2d(a as tf.Tensor4D, f5 as tf.Tensor4D, [1, 2], 'valid')))))([x, w7, w3, w5]),
    ] },
  { name: 'depthwise conv with a window larger than the map (7x7 on 2x3, padded)', inputs: [{ shape: [3, 2, 3, 16] }, { shape: [7, 7, 16, 1] }], fn: (x, w) => [
    tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, [[0, 0], [3, 3], [3, 3], [0, 0]]),
    ...tf.grads((a: tf.Tensor, f: tf.Tensor) => tf.sum(tf.square(tf.depthwiseConv2d(a as tf.Tensor4D, f as tf.Tensor4D, 1, [[0, 0], [3, 3], [3, 3], [0, 0]]))))([x, w]),
  ] },
  // (TF.js has no gradient of a dilated depthwise convolution)
  { name: 'dilated depthwise conv forward (not the addon\'s case: the kernel from before serves it)', inputs: [{ shape: [2, 9, 9, 4] }, { shape: [3, 3, 4, 2] }], fn: (x, w) =>
    tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same', 'NHWC', 2) },
  { name: 'conv2d over several gather blocks (3x3 stride 1 and 2, 4x4 patchify), forward and both gradients', inputs: [{ shape: [2, 48, 48, 32] }, { shape: [3, 3, 32, 4] }, { shape: [4, 4, 32, 5] }], fn: (x, w, wp) => [
    tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same'),
    ...tf.grads((a: tf.Tensor, f: tf.Tensor, fp: tf.Tensor) => tf.add(
      tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, 1, 'same'))),
      tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, fp as tf.Tensor4D, 4, 'valid')))))([x, w, wp]),
  ] },
  // runs of 2048+ elements go to the addon's vectorised loops: same-shape, scalar and row broadcasts
  { name: 'binary arithmetic over long runs (add, sub, mul, div, squared difference; broadcast rows and scalars)', inputs: [{ shape: [3, 2500] }, { shape: [3, 2500] }, { shape: [2500] }, { shape: [1] }], fn: (a, b, row, s) => [
    tf.add(a, b), tf.sub(a, row), tf.mul(row, a), tf.div(a, tf.add(tf.abs(b), 0.5)), tf.squaredDifference(a, b),
    tf.add(a, s), tf.sub(s, a), tf.mul(a, tf.reshape(s, [])), tf.div(tf.reshape(a, [3, 1, 2500]), tf.add(tf.abs(tf.reshape(b, [1, 3, 2500])), 0.5)),
  ] },
  { name: 'relu, step and the relu gradient over NaN, ±inf, ±0', inputs: [{ shape: [4000] }, { shape: [4000] }], fn: (x, g) => {
    const special = tf.tensor1d([NaN, Infinity, -Infinity, 0, -0, 1e-30, -1e-30, 3]);
    const xs = tf.concat([special, x]), gs = tf.concat([tf.tensor1d([1, 2, 3, Infinity, NaN, -1, 1, 0]), g]);
    return [tf.relu(xs), tf.step(xs), tf.step(xs, 0.3), tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), gs)))(xs),
      tf.grad((v: tf.Tensor) => tf.sum(tf.relu(v)))(x)];
  } },
  { name: 'mean over axes, avgPool k×k (tiled and not) with gradients', inputs: [{ shape: [2, 8, 6, 5] }], fn: (x) => [
    tf.mean(x, [0, 1, 2]), tf.mean(x, -1, true), tf.mean(x),
    tf.avgPool(x as tf.Tensor4D, 2, 2, 'valid'), tf.avgPool(x as tf.Tensor4D, 3, 1, 'same'),
    ...tf.grads((a: tf.Tensor) => tf.sum(tf.square(tf.add(tf.avgPool(a as tf.Tensor4D, 2, 2, 'valid'), tf.mean(a, [0, 1, 2])))))([x]),
  ] },
  {
    name: 'batch norm (training statistics) with gradients',
    inputs: [{ shape: [3, 5, 4, 6] }, { shape: [6] }, { shape: [6] }, { shape: [3, 5, 4, 6] }],
    fn: (x, g, b, w) => {
      const xs = tf.add(tf.mul(x, 3), 1.5);
      const r = ops.batchNormTrain(xs, g, b);
      return [r.y, r.mean, r.variance, ...tf.grads((a: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(ops.batchNormTrain(a, gg, bb).y, w)))([xs, g, b])];
    },
  },
  {
    // the fused attention core (accelerated tiers) against the composite path (cpu), with gradients of q, k, v and of a trainable mask
    name: 'attention core: no mask, causal mask, key-padding mask, trainable bias; with gradients',
    inputs: [{ shape: [2, 3, 5, 4] }, { shape: [2, 3, 6, 4] }, { shape: [2, 3, 6, 7] }, { shape: [3, 5, 6] }, { shape: [2, 3, 5, 7] }],
    fn: (q, k, v, bias, w) => {
      const causal = tf.tensor2d(Array.from({ length: 30 }, (_, i) => (i % 6 > Math.floor(i / 6) ? -Infinity : 0)), [5, 6]);
      const padding = tf.tensor4d([0, 0, 0, 0, -Infinity, -Infinity, 0, 0, 0, 0, 0, -Infinity], [2, 1, 1, 6]);
      const outs: tf.Tensor[] = [];
      for (const mask of [null, causal, padding]) {
        outs.push(ops.attention(q, k, v, { mask }));
        outs.push(...tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(ops.attention(a, b, c, { mask, scale: 0.3 }), w)))([q, k, v]));
      }
      outs.push(...tf.grads((a: tf.Tensor, m: tf.Tensor) => tf.sum(tf.mul(ops.attention(a, k, v, { mask: tf.add(causal, m) }), w)))([q, bias]));
      return outs;
    },
  },
  {
    name: 'unsorted segment sum: repeated ids, ids out of range dropped, 2-D ids',
    inputs: [{ shape: [6, 3, 2] }],
    fn: (x) => [
      tf.unsortedSegmentSum(x, tf.tensor1d([4, 0, 4, -1, 9, 2], 'int32'), 7),
      // (tf.unsortedSegmentSum's typing takes 1-D ids; the kernel takes ids matching any leading dims of x)
      tf.engine().runKernel('UnsortedSegmentSum', { x, segmentIds: tf.tensor2d([1, 1, 0, 3, 3, 3, 2, 0, 1, 1, 2, 0, 0, 1, 3, 2, 2, 2], [6, 3], 'int32') }, { numSegments: 4 }) as tf.Tensor,
    ],
  },
  {
    name: 'unary kernels (relu, step with alpha, sigmoid, tanh, neg, square, sqrt, rsqrt, abs) with NaN and relu gradient',
    inputs: [{ shape: [5, 7] }],
    fn: (x) => {
      const xn = tf.concat([x, tf.tensor2d([NaN, 0, -0, 3, -3, 1e-30, 40], [1, 7])]);
      const pos = tf.add(tf.abs(xn), 0.5);
      return [tf.relu(xn), tf.step(xn), tf.step(xn, 0.25), tf.sigmoid(xn), tf.tanh(xn), tf.neg(xn), tf.square(xn), tf.sqrt(pos), tf.rsqrt(pos),
        tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), v)))(x)];
    },
  },
  {
    name: 'packed q|k|v split into heads, with the gradient of each part and of all three',
    inputs: [{ shape: [2, 5, 24] }, { shape: [2, 4, 5, 2] }, { shape: [2, 4, 5, 2] }],
    fn: (qkv, wq, wv) => [
      ...ops.splitQkvHeads(qkv, 4),
      tf.grad((x: tf.Tensor) => {
        const [q, , v] = ops.splitQkvHeads(x, 4); // k unused: its gradient part is zero
        return tf.add(tf.sum(tf.mul(q, wq)), tf.sum(tf.mul(v, wv)));
      })(qkv),
      tf.grad((x: tf.Tensor) => tf.sum(tf.stack(ops.splitQkvHeads(x, 4)).square()))(qkv),
    ],
  },
  { name: 'identity (clone)', inputs: [{ shape: [3, 4] }], fn: (x) => tf.clone(x) },
  {
    name: 'layerNorm + gelu with gradients',
    inputs: [{ shape: [2, 7, 24] }, { shape: [24] }, { shape: [24] }],
    fn: (x, g, b) => {
      const f = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(ops.gelu(ops.layerNorm(xx, gg, bb)), tf.range(0, 24)));
      return [ops.gelu(ops.layerNorm(x, g, b)), ...tf.grads(f)([x, g, b])];
    },
  },
  ...(['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'squaredDifference'] as const).map((op): Case => ({
    name: `${op} with broadcasting (same shape, row, column, scalar, both sides)`,
    inputs: [{ shape: [3, 4, 5, 6] }, { shape: [6] }, { shape: [3, 4, 5, 1] }, { shape: [4, 1, 6] }, { shape: [3, 1, 5, 1] }, { shape: [1, 4, 1, 6] }],
    fn: (a, row, col, mid, l, r) => {
      const f = (x: tf.Tensor, y: tf.Tensor) => (op === 'div' ? tf.div(x, tf.add(tf.abs(y), 0.5)) : tf[op](x, y));
      return [f(a, a), f(a, row), f(row, a), f(a, col), f(col, a), f(a, mid), f(a, tf.scalar(0.7)), f(tf.scalar(1.3), a), f(l, r)];
    },
  })),
  {
    name: 'binary gradients with broadcasting',
    inputs: [{ shape: [4, 3, 5] }, { shape: [3, 1] }],
    fn: (a, b) => tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.div(tf.sub(tf.add(x, y), tf.mul(x, y)), tf.add(tf.square(y), 1)), x)))([a, b]),
  },
  { name: 'cast int32 to float32 then arithmetic', inputs: [{ shape: [5, 7], dtype: 'int32' }, { shape: [7] }], fn: (i, x) => tf.mul(tf.cast(i, 'float32'), x) },
  {
    name: 'softmax (last axis) with gradient',
    inputs: [{ shape: [2, 3, 7, 9] }, { shape: [2, 3, 7, 9] }],
    fn: (x, w) => [tf.softmax(tf.mul(x, 5)), tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.softmax(a), w)))(x)],
  },
  {
    name: 'slice, splitV, concat, stack and pad (with gradients)',
    inputs: [{ shape: [4, 6, 5, 3] }, { shape: [4, 2, 5, 3] }],
    fn: (x, y) => [
      tf.slice(x, [1, 2, 0, 1], [2, 3, 5, 2]),
      tf.slice(x, [0, 1, 0, 0], [4, 1, 5, 3]),
      tf.slice(x, [0, 0, 2, 0], [-1, -1, 1, -1]),
      ...tf.split(x, [1, 3, 2], 1),
      tf.concat([x, y, x], 1),
      tf.concat([x, x], 3),
      tf.stack([x, x, x], 0),
      tf.stack([x, x], 2),
      tf.stack([x, x], 4),
      tf.pad(y, [[0, 1], [2, 0], [1, 1], [0, 0]]),
      tf.pad(y, [[1, 0], [0, 0], [0, 0], [2, 1]], 1.5),
      ...tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.concat([tf.slice(a, [0, 1, 0, 0], [4, 2, 5, 3]), b, tf.stack(tf.unstack(a, 1).slice(0, 2), 1)], 1))))([x, y]),
    ],
  },
  { name: 'int32 slice and concat', inputs: [{ shape: [5, 8], dtype: 'int32' }], fn: (x) => [tf.slice(x, [1, 2], [3, 4]), tf.concat([x, x], 1)] },
  {
    name: 'attention with causal mask and gradients',
    inputs: [{ shape: [2, 2, 5, 4] }, { shape: [2, 2, 5, 4] }, { shape: [2, 2, 5, 4] }],
    fn: (q, k, v) => {
      const mask = tf.linalg.bandPart(tf.ones([5, 5]), -1, 0).sub(1).mul(1e9);
      return tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.square(ops.attention(a, b, c, { mask }))))([q, k, v]);
    },
  },
  // grouped (1 < groups < channels): the addon's conv kernels, one product per group, against one tf.conv2d per group on cpu
  { name: 'grouped conv forward and both gradients (3x3 stride 2 same, 5x3 explicit pads stride [1, 2], 1x1 pointwise, groups 2 and 4)',
    inputs: [{ shape: [2, 9, 8, 8] }, { shape: [3, 3, 2, 12] }, { shape: [5, 3, 4, 6] }, { shape: [1, 1, 2, 8] }], fn: (x, w3, w5, w1) => {
      const pads: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [2, 1], [1, 0], [0, 0]];
      const loss = (a: tf.Tensor, f3: tf.Tensor, f5: tf.Tensor, f1: tf.Tensor) => tf.add(tf.add(
        tf.sum(tf.square(ops.groupedConv2d(a, f3, 2, 'same', 4))),
        tf.sum(tf.square(ops.groupedConv2d(a, f5, [1, 2], pads, 2)))),
        tf.sum(tf.square(ops.groupedConv2d(a, f1, 1, 'valid', 4))));
      return [ops.groupedConv2d(x, w3, 2, 'same', 4), ops.groupedConv2d(x, w5, [1, 2], pads, 2), ops.groupedConv2d(x, w1, 1, 'valid', 4),
        ...tf.grads(loss)([x, w3, w5, w1])];
    } },
  { name: 'grouped conv over several gather blocks (3x3 stride 1, groups 2 of 32 channels), forward and both gradients',
    inputs: [{ shape: [2, 48, 48, 64] }, { shape: [3, 3, 32, 6] }], fn: (x, w) => [
      ops.groupedConv2d(x, w, 1, 1, 2),
      ...tf.grads((a: tf.Tensor, f: tf.Tensor) => tf.sum(tf.square(ops.groupedConv2d(a, f, 1, 1, 2))))([x, w]),
    ] },
];

function inputsFor(c: Case, seed: number): { values: Float32Array | Int32Array; shape: number[]; dtype: 'float32' | 'int32' }[] {
  const rng = new Rng(seed);
  return c.inputs.map(({ shape, dtype = 'float32' }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const f = rng.fillNormal(new Float32Array(n));
    return { values: dtype === 'int32' ? Int32Array.from(f, (x) => Math.round(x * 100)) : f, shape, dtype };
  });
}

function run(c: Case, seed: number): Float32Array[] | Int32Array[] {
  const xs = inputsFor(c, seed).map((i) => tf.tensor(i.values, i.shape, i.dtype));
  const out = tf.tidy(() => c.fn(...xs));
  const outs = Array.isArray(out) ? out : [out];
  const vals = outs.map((t) => t.dataSync().slice()) as Float32Array[];
  tf.dispose([...xs, ...outs]);
  return vals;
}

const native = loadNative(1);
const ort = loadOrt(1);

// the openblas tier runs twice where oneDNN is installed: its matrix products on each library
const COMBOS: [string, string, GemmLibrary?][] = [['wasm', 'js'], ['wasm', 'ort'], ['wasm', 'openblas', 'openblas'], ['wasm', 'openblas', 'onednn'],
  ['native', 'ort'], ['native', 'openblas', 'openblas'], ['native', 'openblas', 'onednn']];
for (const [backend, tier, gemm] of COMBOS) test(`kernels of the ${backend} backend's ${tier} tier${gemm ? ` (GEMM: ${gemm})` : ''} match the cpu backend, without leaks`, async (t) => {
  if (tier === 'openblas' && !native.blas) {
    t.skip(`openblas tier unavailable: ${native.detail}`);
    return;
  }
  if (gemm === 'onednn' && !native.onednn) {
    t.skip(`oneDNN not loaded: ${native.detail}`);
    return;
  }
  const defaultGemm = native.gemm;
  if (gemm) selectGemm(gemm);
  t.after(() => {
    if (defaultGemm) selectGemm(defaultGemm);
  });
  if (tier === 'ort' && !ort.addon) {
    t.skip(`ort tier unavailable: ${ort.detail}`);
    return;
  }
  let worst = 0;
  for (const [i, c] of CASES.entries()) {
    await initEngine({ backend: 'cpu', accel: 'none' });
    const want = run(c, 100 + i);
    const info = await initEngine({ backend, accel: tier });
    assert.equal(info.backend, backend);
    assert.equal(info.accel.tier, tier);
    const before = tf.memory().numTensors;
    const got = run(c, 100 + i);
    assert.equal(tf.memory().numTensors, before, `${c.name}: leaked tensors`);
    assert.equal(got.length, want.length, c.name);
    got.forEach((g, k) => {
      assert.equal(g.length, want[k].length, `${c.name}[${k}] size`);
      let scale = 0, diff = 0;
      for (let j = 0; j < g.length; j++) {
        // NaN where the cpu backend gives NaN, and only there
        if (Number.isNaN(want[k][j]) || Number.isNaN(g[j])) {
          assert.ok(Number.isNaN(want[k][j]) && Number.isNaN(g[j]), `${c.name}[${k}][${j}]: ${g[j]} vs ${want[k][j]}`);
          continue;
        }
        // infinities where the cpu backend gives them, with their sign
        if (!Number.isFinite(want[k][j]) || !Number.isFinite(g[j])) {
          assert.equal(g[j], want[k][j], `${c.name}[${k}][${j}]`);
          continue;
        }
        scale = Math.max(scale, Math.abs(want[k][j]));
        diff = Math.max(diff, Math.abs(g[j] - want[k][j]));
      }
      const rel = scale === 0 ? diff : diff / scale;
      worst = Math.max(worst, rel);
      assert.ok(rel <= 2e-6 || diff <= 1e-6, `${c.name}[${k}]: max |diff| ${diff} (scale ${scale})`);
    });
  }
  t.diagnostic(`worst relative difference ${worst.toExponential(2)} over ${CASES.length} cases`);
});

test('adamwStep matches an independent AdamW computation on every backend', async () => {
  const n = 257;
  const rng = new Rng(5);
  const p0 = rng.fillNormal(new Float32Array(n)), g1 = rng.fillNormal(new Float32Array(n)), g2 = rng.fillNormal(new Float32Array(n));
  const hyper = { lr: 0.01, beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.1 };
  // reference in float64
  const p = Float64Array.from(p0), m = new Float64Array(n), v = new Float64Array(n);
  [g1, g2].forEach((g, s) => {
    const step = s + 1;
    for (let i = 0; i < n; i++) {
      p[i] *= 1 - hyper.lr * hyper.weightDecay;
      m[i] = hyper.beta1 * m[i] + (1 - hyper.beta1) * g[i];
      v[i] = hyper.beta2 * v[i] + (1 - hyper.beta2) * g[i] * g[i];
      const mh = m[i] / (1 - hyper.beta1 ** step), vh = v[i] / (1 - hyper.beta2 ** step);
      p[i] -= (hyper.lr * mh) / (Math.sqrt(vh) + hyper.eps);
    }
  });
  const tiers: [string, string][] = [['cpu', 'none'], ['wasm', 'none'], ['wasm', 'js']];
  if (native.blas) tiers.push(['wasm', 'openblas'], ['native', 'openblas']);
  if (ort.addon) tiers.push(['wasm', 'ort'], ['native', 'ort']);
  for (const [backend, accel] of tiers) {
    await initEngine({ backend, accel });
    const before = tf.memory().numTensors;
    const [pv, mv, vv] = tf.tidy(() => [tf.variable(tf.tensor1d(p0)), tf.variable(tf.zeros([n])), tf.variable(tf.zeros([n]))]);
    [g1, g2].forEach((g, s) => {
      const gt = tf.tensor1d(g);
      adamwStep(pv, gt, mv, vv, { ...hyper, step: s + 1 });
      gt.dispose();
    });
    const got = pv.dataSync();
    for (let i = 0; i < n; i++) assert.ok(Math.abs(got[i] - p[i]) < 1e-5, `${backend}/${accel}: p[${i}] ${got[i]} vs ${p[i]}`);
    assert.throws(() => adamwStep(pv, tf.zeros([3]), mv, vv, { lr: 1, step: 1 }), /adamwStep: grad of '.*' has shape \[3\], expected \[257\]/);
    tf.dispose([pv, mv, vv]);
    tf.disposeVariables();
    assert.ok(tf.memory().numTensors <= before + 1, `${backend}/${accel}: adamwStep leaked`);
  }
});

/** In a fresh process with `env` set: the tier `auto` picks, its detail, and the error from requiring `tier`. */
function probeFallback(env: Record<string, string>, tier: string): { tier: string; detail: string; err: string } {
  const script = `
    import { initEngine } from ${JSON.stringify(new URL('../../src/index.js', import.meta.url).href)};
    const info = await initEngine({ backend: 'wasm' });
    let err = '';
    try { await initEngine({ backend: 'wasm', accel: ${JSON.stringify(tier)} }); } catch (e) { err = e.message; }
    console.log(JSON.stringify({ tier: info.accel.tier, detail: info.accel.detail, err }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    cwd: fileURLToPath(new URL('.', import.meta.url)),
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

test('without the addon the engine falls back and says why; requiring openblas then fails clearly', () => {
  const out = probeFallback({ OPENCLIP_NATIVE: '0' }, 'openblas');
  assert.equal(out.tier, ort.addon ? 'ort' : 'js');
  assert.match(out.detail, /native tier unavailable: disabled by OPENCLIP_NATIVE=0/);
  assert.match(out.err, /acceleration tier 'openblas' is not available: disabled by OPENCLIP_NATIVE=0/);
});

test('with neither the addon nor onnxruntime-node the engine runs its JavaScript kernels and says why', () => {
  const out = probeFallback({ OPENCLIP_NATIVE: '0', OPENCLIP_ORT: '0' }, 'ort');
  assert.equal(out.tier, 'js');
  assert.match(out.detail, /native tier unavailable: disabled by OPENCLIP_NATIVE=0; ort tier unavailable: disabled by OPENCLIP_ORT=0/);
  assert.match(out.err, /acceleration tier 'ort' is not available: disabled by OPENCLIP_ORT=0/);
});

test('a tier request on a non-wasm backend is noted, not an error', async () => {
  const info = await initEngine({ backend: 'cpu', accel: 'openblas' });
  assert.equal(info.accel.tier, 'none');
  assert.match(info.accel.detail, /tier 'openblas' applies to the native and wasm backends only/);
});

test('OPENCLIP_ACCEL with an unknown tier is a clear error', async () => {
  await assert.rejects(initEngine({ accel: 'gpu' }), /accel option: unknown acceleration tier 'gpu' \(choose one of: auto, openblas, ort, js, none\)/);
});

test('the native backend never writes an array it handed out or was given, and recycles freed ones', async (t) => {
  if (!native.blas && !ort.addon) {
    t.skip('neither the addon nor onnxruntime-node loads: no native backend here');
    return;
  }
  await initEngine({ backend: 'native' });
  const n = 4096;
  const given = new Float32Array(n).fill(1);
  const [pv, mv, vv] = tf.tidy(() => [tf.variable(tf.tensor1d(given)), tf.variable(tf.zeros([n])), tf.variable(tf.zeros([n]))]);
  const g = tf.fill([n], 0.5);
  for (let step = 1; step <= 3; step++) adamwStep(pv, g, mv, vv, { lr: 0.1, step });
  assert.ok(given.every((x) => x === 1), 'the array passed to tf.tensor was written');
  const held = pv.dataSync();
  const copy = held.slice();
  adamwStep(pv, g, mv, vv, { lr: 0.1, step: 4 });
  assert.deepEqual(held, copy, 'an array returned by dataSync() changed after a further step');
  assert.notDeepEqual(pv.dataSync(), copy, 'the parameter did not change');
  // a freed kernel output is reused for the next output of its size, unless it was handed out
  const x = tf.fill([n], 2);
  const a = tf.exp(x);
  const out = a.dataSync();
  a.dispose();
  const b = tf.exp(tf.mul(x, 0.5));
  assert.ok(out.every((v) => Math.abs(v - Math.exp(2)) < 1e-3), 'a handed-out array was recycled');
  tf.dispose([pv, mv, vv, g, x, b]);
});

test('freed tensors give their memory back: RSS falls after a large computation and releaseMemory()', async (t) => {
  if (!native.blas && !ort.addon) {
    t.skip('neither the addon nor onnxruntime-node loads: no native backend here');
    return;
  }
  await initEngine({ backend: 'native' });
  releaseMemory();
  const base = process.memoryUsage().rss;
  // ~1.3 GB of kernel outputs alive at once, then freed
  const peak = tf.tidy(() => {
    const x = tf.randomNormal([64, 1024, 1024]);
    const ys = [tf.exp(x), tf.mul(x, 2), tf.add(x, 1), tf.softmax(x)];
    return process.memoryUsage().rss + ys.length * 0;
  });
  assert.ok(peak - base > 1.0e9, `expected RSS to grow by over 1 GB, grew ${((peak - base) / 2 ** 20).toFixed(0)} MB`);
  releaseMemory();
  await new Promise((r) => setTimeout(r, 200)); // V8 frees array buffers on a background thread after the collection
  const after = process.memoryUsage().rss;
  t.diagnostic(`RSS ${(base / 2 ** 20).toFixed(0)} MB → ${(peak / 2 ** 20).toFixed(0)} MB → ${(after / 2 ** 20).toFixed(0)} MB after dispose + releaseMemory()`);
  assert.ok(after - base < 0.25 * (peak - base), `RSS stayed at ${(after / 2 ** 20).toFixed(0)} MB (base ${(base / 2 ** 20).toFixed(0)}, peak ${(peak / 2 ** 20).toFixed(0)})`);
});

/** In a fresh process with `env` set: the native backend's tier detail, or the error initEngine throws. */
function probeGemm(env: Record<string, string>): { detail?: string; err?: string } {
  const script = `
    import { initEngine } from ${JSON.stringify(new URL('../../src/index.js', import.meta.url).href)};
    try { const info = await initEngine({ backend: 'native', accel: 'openblas' }); console.log(JSON.stringify({ detail: info.accel.detail })); }
    catch (e) { console.log(JSON.stringify({ err: e.message })); }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

test('OPENCLIP_GEMM chooses the library of the matrix products; an unknown value or a missing oneDNN is a clear error', (t) => {
  if (!native.blas) {
    t.skip(`openblas tier unavailable: ${native.detail}`);
    return;
  }
  assert.match(probeGemm({ OPENCLIP_GEMM: 'openblas' }).detail ?? '', /matrix products on OpenBLAS \(OPENCLIP_GEMM=openblas\)/);
  assert.match(probeGemm({ OPENCLIP_GEMM: 'mkl' }).err ?? '', /OPENCLIP_GEMM: unknown GEMM library 'mkl' \(choose one of: auto, onednn, openblas\)/);
  const onednn = probeGemm({ OPENCLIP_GEMM: 'onednn' });
  if (native.onednn) assert.match(onednn.detail ?? '', /matrix products on libdnnl\S* \(oneDNN \d+\.\d+\.\d+, (OpenMP|sequential)\)/);
  else assert.match(onednn.err ?? '', /OPENCLIP_GEMM=onednn, but oneDNN did not load: .* \(install libdnnl2\)/);
  assert.equal(native.gemm, native.onednn ? 'onednn' : 'openblas', 'auto prefers oneDNN where it loads');
});

test('grouped convolutions and both their gradients run as the addon\'s kernels on the openblas tier (no per-group convolutions)', async (t) => {
  if (!native.blas || !native.addon?.conv2dForward) {
    t.skip(`openblas tier unavailable: ${native.detail}`);
    return;
  }
  for (const backend of ['native', 'wasm'] as const) {
    await initEngine({ backend, accel: 'openblas' });
    const x = tf.randomNormal([2, 6, 5, 6]);
    const w = tf.randomNormal([3, 3, 2, 9]);
    const names: string[] = [];
    const prof = await tf.profile(() => tf.grads((a: tf.Tensor, f: tf.Tensor) => tf.sum(ops.groupedConv2d(a, f, 1, 'same', 3)))([x, w]));
    for (const k of prof.kernels) names.push(k.name);
    assert.ok(['OpenclipGroupedConv2d', 'OpenclipGroupedConv2dBackpropInput', 'OpenclipGroupedConv2dBackpropFilter'].every((k) => names.includes(k)), `${backend}: ${names.join(', ')}`);
    assert.ok(!names.some((k) => k.startsWith('Conv2D')), `${backend}: per-group convolutions ran: ${names.join(', ')}`);
    assert.throws(() => ops.groupedConv2d(x, w, 1, 'same', 4), /groupedConv2d: groups=4 does not fit input channels 6 and filter \[3,3,2,9\]/);
    tf.dispose([x, w, ...(prof.result as tf.Tensor[])]);
  }
});

test("the addon's kernels refuse arrays of the wrong size, naming them", (t) => {
  const addon = native.addon;
  if (!native.blas || !addon?.conv2dForward || !addon.depthwiseConv2dForward || !addon.batchNormFwd || !addon.attentionFwd || !addon.binaryRun || !addon.reluGrad) {
    t.skip(`compiled addon unavailable: ${native.detail}`);
    return;
  }
  const f = (n: number) => new Float32Array(n);
  // 1 image 4×4×2, 3×3 filter to 3 channels, stride 1, padding 1: output 4×4×3
  const geometry = Int32Array.from([1, 4, 4, 2, 4, 4, 3, 3, 3, 1, 1, 1, 1]);
  assert.throws(() => addon.conv2dForward!(f(32), f(54), geometry, f(47)), /conv output has 47 elements, expected 48/);
  assert.throws(() => addon.conv2dBackpropFilter!(f(32), f(48), geometry, f(53)), /conv filter gradient has 53 elements, expected 54/);
  assert.throws(() => addon.conv2dForward!(f(32), f(54), Int32Array.from([1, 4, 4]), f(48)), /conv geometry must be an Int32Array of 13 values \(14 with groups\)/);
  // grouped: 2 groups of 1 input channel: filter 3·3·1·4, output 4×4×4
  assert.throws(() => addon.conv2dForward!(f(32), f(54), Int32Array.from([1, 4, 4, 2, 4, 4, 4, 3, 3, 1, 1, 1, 1, 2]), f(64)), /conv filter has 54 elements, expected 36/);
  assert.throws(() => addon.conv2dBackpropInput!(f(48), f(27), Int32Array.from([1, 4, 4, 2, 4, 4, 3, 3, 3, 1, 1, 1, 1, 2]), f(32)), /groups must divide the input and output channels/);
  // depthwise: 2 channels, multiplier 2, 3×3 window: filter 3·3·4, output 4×4×4
  assert.throws(() => addon.depthwiseConv2dForward!(f(32), f(36), Int32Array.from([1, 4, 4, 2, 4, 4, 2, 3, 3, 1, 1, 1, 1]), f(63)), /depthwise conv output has 63 elements, expected 64/);
  assert.throws(() => addon.depthwiseConv2dBackpropInput!(f(64), f(35), Int32Array.from([1, 4, 4, 2, 4, 4, 2, 3, 3, 1, 1, 1, 1]), f(32)), /depthwise conv filter has 35 elements, expected 36/);
  assert.throws(() => addon.depthwiseConv2dBackpropFilter!(f(32), f(64), Int32Array.from([1, 4, 4, 2, 4, 4, 2, 3, 3, 1, 1, -1, 1]), f(36)), /negative padding/);
  assert.throws(() => addon.batchNormFwd!(f(12), f(3), f(2), 4, 3, 1e-5, f(12), f(3), f(3)), /batch norm beta has 2 elements, expected 3/);
  assert.throws(() => addon.attentionFwd!(f(8), f(8), f(8), null, null, 0, 0, 1, 2, 2, 4, 4, 1, f(8), f(3)), /attention probabilities has 3 elements, expected 4/);
  assert.throws(() => addon.binaryRun!(0, f(10), 5, 1, f(10), 0, 1, f(10), 0, 6), /elementwise operand A has 10 elements, expected at least 11/);
  assert.throws(() => addon.reluGrad!(f(5), f(5), f(4)), /relu gradient output has 4 elements, expected 5/);
});
