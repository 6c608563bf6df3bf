/**
 * Kernels of the `native` backend for the work the cpu backend's JavaScript kernels do slowly:
 * elementwise arithmetic with broadcasting (tfjs-cpu takes a modulo or an index conversion per
 * element), softmax over the last axis (tfjs-cpu composes five broadcasting kernels), Mean
 * (the tier's Sum), tiled average pooling and its gradient, and the data movement of Slice,
 * SplitV, Concat, Pack and PadV2 (row copies instead of per-element index arithmetic). Plain loops over the tensors' own typed arrays, with the tier's vectorised
 * exp for softmax and, on the compiled addon, its vectorised loops for long runs of binary
 * arithmetic; anything else (dtypes, shapes) falls back to the backend's own kernel.
 */
import { tf } from '../tf.js';
import type { NativeAddon } from './native.js';
import {
  type KernelBackend,
  type TensorInfo,
  makeOutput,
  originalKernel,
  overrideKernel,
  restoreKernels,
  sizeOf,
  view,
  viewF32,
} from './backend-memory.js';

type KernelArgs = { inputs: Record<string, TensorInfo>; backend: KernelBackend; attrs: Record<string, unknown> };
type Arr = Float32Array | Int32Array | Uint8Array;
type Loop = (A: Float32Array, B: Float32Array, O: Float32Array, n: number, ao: number, bo: number, oo: number, sa: number, sb: number) => void;

/** One specialised inner loop per operation (its own code, so each stays monomorphic). */
function makeLoop(expr: string): Loop {
  const body = (a: string, b: string) => expr.replaceAll('$a', a).replaceAll('$b', b);
  return new Function('A', 'B', 'O', 'n', 'ao', 'bo', 'oo', 'sa', 'sb', `
    if (sa === 1 && sb === 1) { for (let i = 0; i < n; i++) O[oo + i] = ${body('A[ao + i]', 'B[bo + i]')}; }
    else if (sa === 1 && sb === 0) { const b = B[bo]; for (let i = 0; i < n; i++) O[oo + i] = ${body('A[ao + i]', 'b')}; }
    else if (sa === 0 && sb === 1) { const a = A[ao]; for (let i = 0; i < n; i++) O[oo + i] = ${body('a', 'B[bo + i]')}; }
    else { for (let i = 0; i < n; i++) O[oo + i] = ${body('A[ao + i * sa]', 'B[bo + i * sb]')}; }`) as Loop;
}

const BINARY: Record<string, string> = {
  Add: '$a + $b',
  Sub: '$a - $b',
  Multiply: '$a * $b',
  RealDiv: '$a / $b',
  Maximum: 'Math.max($a, $b)',
  Minimum: 'Math.min($a, $b)',
  SquaredDifference: '($a - $b) * ($a - $b)',
};

interface BroadcastPlan {
  outShape: number[];
  /** Collapsed iteration dims with each operand's stride (0 where it broadcasts). */
  dims: number[];
  sa: number[];
  sb: number[];
}

/** Broadcast geometry of a ⊙ b, with adjacent dims merged where both operands allow it. */
export function broadcastPlan(aShape: number[], bShape: number[]): BroadcastPlan {
  const outShape = tf.backend_util.assertAndGetBroadcastShape(aShape, bShape);
  const r = outShape.length;
  const pa = [...new Array<number>(r - aShape.length).fill(1), ...aShape];
  const pb = [...new Array<number>(r - bShape.length).fill(1), ...bShape];
  const strides = (s: number[]) => {
    const st = new Array<number>(r);
    let acc = 1;
    for (let i = r - 1; i >= 0; i--) {
      st[i] = s[i] === 1 ? 0 : acc;
      acc *= s[i];
    }
    return st;
  };
  const sta = strides(pa), stb = strides(pb);
  const dims: number[] = [], sa: number[] = [], sb: number[] = [];
  for (let i = 0; i < r; i++) {
    if (outShape[i] === 1) continue;
    const k = dims.length - 1;
    // merge dim i into the previous one when each operand is contiguous across both (or broadcast in both)
    if (k >= 0 && sa[k] === sta[i] * outShape[i] && sb[k] === stb[i] * outShape[i]) {
      dims[k] *= outShape[i];
      sa[k] = sta[i];
      sb[k] = stb[i];
    } else {
      dims.push(outShape[i]);
      sa.push(sta[i]);
      sb.push(stb[i]);
    }
  }
  return { outShape, dims, sa, sb };
}

/** Runs `loop` over a broadcast plan: the innermost dim in the loop, the others by odometer. */
function runBroadcast(loop: Loop, A: Float32Array, B: Float32Array, O: Float32Array, p: BroadcastPlan): void {
  const r = p.dims.length;
  if (r === 0) {
    loop(A, B, O, 1, 0, 0, 0, 1, 1);
    return;
  }
  const n = p.dims[r - 1], ia = p.sa[r - 1], ib = p.sb[r - 1];
  const outer = O.length / n;
  const idx = new Array<number>(r - 1).fill(0);
  let ao = 0, bo = 0;
  for (let o = 0; o < outer; o++) {
    loop(A, B, O, n, ao, bo, o * n, ia, ib);
    for (let d = r - 2; d >= 0; d--) {
      idx[d]++;
      ao += p.sa[d];
      bo += p.sb[d];
      if (idx[d] < p.dims[d]) break;
      ao -= p.sa[d] * p.dims[d];
      bo -= p.sb[d] * p.dims[d];
      idx[d] = 0;
    }
  }
}

/** The addon's op codes for the operations it vectorises, and the run length from which calling it pays. */
const ADDON_BINARY: Record<string, number> = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, SquaredDifference: 4 };
const ADDON_MIN_RUN = 2048;

function binaryKernel(name: string, backendName: string, addon: NativeAddon): (args: KernelArgs) => unknown {
  const js = makeLoop(BINARY[name]);
  const op = ADDON_BINARY[name], run = addon.binaryRun?.bind(addon);
  const loop: Loop = run && op !== undefined
    ? (A, B, O, n, ao, bo, oo, sa, sb) => (n >= ADDON_MIN_RUN ? run(op, A, ao, sa, B, bo, sb, O, oo, n) : js(A, B, O, n, ao, bo, oo, sa, sb))
    : js;
  return (args) => {
    const { inputs: { a, b }, backend } = args;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return originalKernel(name, backendName)!.kernelFunc(args as any);
    const plan = broadcastPlan(a.shape, b.shape);
    const out = makeOutput(backend, plan.outShape, 'float32', true);
    runBroadcast(loop, viewF32(backend, a), viewF32(backend, b), viewF32(backend, out), plan);
    return out;
  };
}

/** softmax over the last axis: max-shifted, exp by the tier's vectorised loop when it has one. */
function softmaxKernel(backendName: string, exp: ((x: Float32Array, y: Float32Array) => void) | null) {
  return (args: KernelArgs) => {
    const { inputs: { logits }, backend, attrs } = args;
    const dim = attrs.dim as number;
    const r = logits.shape.length;
    if (logits.dtype !== 'float32' || !(dim === -1 || dim === r - 1) || r === 0) return originalKernel('Softmax', backendName)!.kernelFunc(args as any);
    const C = logits.shape[r - 1];
    const out = makeOutput(backend, logits.shape, 'float32', true);
    const X = viewF32(backend, logits), Y = viewF32(backend, out);
    const rows = C === 0 ? 0 : X.length / C;
    for (let i = 0; i < rows; i++) {
      const o = i * C;
      let m = -Infinity;
      for (let j = 0; j < C; j++) if (X[o + j] > m) m = X[o + j];
      if (exp) for (let j = 0; j < C; j++) Y[o + j] = X[o + j] - m;
      else for (let j = 0; j < C; j++) Y[o + j] = Math.exp(X[o + j] - m);
    }
    if (exp) exp(Y, Y);
    for (let i = 0; i < rows; i++) {
      const o = i * C;
      let s = 0;
      for (let j = 0; j < C; j++) s += Y[o + j];
      for (let j = 0; j < C; j++) Y[o + j] /= s;
    }
    return out;
  };
}

/** Copies the box [begin, begin+size) of x (row-major, shape xs) into y. */
export function copyBox(x: Arr, xs: number[], begin: number[], size: number[], y: Arr): void {
  const r = xs.length;
  if (r === 0) {
    y[0] = x[0];
    return;
  }
  // merge trailing dims that are taken whole into one contiguous run
  let k = r - 1;
  let run = size[k];
  while (k > 0 && begin[k] === 0 && size[k] === xs[k]) {
    k--;
    run *= size[k];
  }
  const xStr = new Array<number>(r);
  let acc = 1;
  for (let i = r - 1; i >= 0; i--) {
    xStr[i] = acc;
    acc *= xs[i];
  }
  let base = 0;
  for (let i = 0; i < r; i++) base += begin[i] * xStr[i];
  const outer = run === 0 ? 0 : y.length / run;
  const idx = new Array<number>(k).fill(0);
  let xo = base;
  for (let o = 0; o < outer; o++) {
    if (run >= 16) y.set(x.subarray(xo, xo + run), o * run);
    else for (let j = 0; j < run; j++) y[o * run + j] = x[xo + j];
    for (let d = k - 1; d >= 0; d--) {
      idx[d]++;
      xo += xStr[d];
      if (idx[d] < size[d]) break;
      xo -= xStr[d] * size[d];
      idx[d] = 0;
    }
  }
}

function sliceKernel(backendName: string) {
  return (args: KernelArgs) => {
    const { inputs: { x }, backend, attrs } = args;
    if (x.dtype === 'string' || x.dtype === 'complex64') return originalKernel('Slice', backendName)!.kernelFunc(args as any);
    const [begin, size] = tf.slice_util.parseSliceParams(x as unknown as tf.TensorInfo, attrs.begin as number[], attrs.size as number[]);
    tf.slice_util.assertParamsValid(x as unknown as tf.TensorInfo, begin, size);
    const out = makeOutput(backend, size, x.dtype, true);
    copyBox(view(backend, x), x.shape, begin, size, view(backend, out));
    return out;
  };
}

function splitVKernel(backendName: string) {
  return (args: KernelArgs) => {
    const { inputs: { x }, backend, attrs } = args;
    if (x.dtype === 'string' || x.dtype === 'complex64') return originalKernel('SplitV', backendName)!.kernelFunc(args as any);
    const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, attrs.numOrSizeSplits as number | number[], axis);
    const begin = new Array<number>(x.shape.length).fill(0);
    const src = view(backend, x);
    return sizes.map((s) => {
      const size = [...x.shape];
      size[axis] = s;
      const out = makeOutput(backend, size, x.dtype, true);
      copyBox(src, x.shape, begin, size, view(backend, out));
      begin[axis] += s;
      return out;
    });
  };
}

/** Concatenation along `axis` of blocks: each output row (dims before axis) takes each input's row in turn. */
function concatInto(backend: KernelBackend, parts: TensorInfo[], inner: number[], outer: number, out: TensorInfo): void {
  const O = view(backend, out);
  const srcs = parts.map((t) => view(backend, t));
  let o = 0;
  for (let r = 0; r < outer; r++) {
    for (let i = 0; i < srcs.length; i++) {
      const n = inner[i];
      if (n >= 16) O.set(srcs[i].subarray(r * n, (r + 1) * n), o);
      else for (let j = 0; j < n; j++) O[o + j] = srcs[i][r * n + j];
      o += n;
    }
  }
}

function concatKernel(backendName: string) {
  return (args: KernelArgs) => {
    const { inputs, backend, attrs } = args;
    const xs = Object.values(inputs) as TensorInfo[];
    if (xs.length === 0 || xs.some((t) => t.dtype !== xs[0].dtype || t.dtype === 'string' || t.dtype === 'complex64')) {
      return originalKernel('Concat', backendName)!.kernelFunc(args as any);
    }
    const axis = tf.util.parseAxisParam(attrs.axis as number, xs[0].shape)[0];
    const outShape = tf.backend_util.computeOutShape(xs.map((t) => t.shape), axis);
    const out = makeOutput(backend, outShape, xs[0].dtype, true);
    if (sizeOf(outShape) === 0) return out;
    const parts = xs.filter((t) => sizeOf(t.shape) > 0);
    concatInto(backend, parts, parts.map((t) => sizeOf(t.shape.slice(axis))), sizeOf(outShape.slice(0, axis)), out);
    return out;
  };
}

function packKernel(backendName: string) {
  return (args: KernelArgs) => {
    const { inputs, backend, attrs } = args;
    const xs = Object.values(inputs) as TensorInfo[];
    if (xs.length === 0 || xs.some((t) => t.dtype !== xs[0].dtype || t.dtype === 'string' || t.dtype === 'complex64')) {
      return originalKernel('Pack', backendName)!.kernelFunc(args as any);
    }
    const shape = xs[0].shape;
    const axis = attrs.axis as number < 0 ? (attrs.axis as number) + shape.length + 1 : (attrs.axis as number);
    const outShape = [...shape.slice(0, axis), xs.length, ...shape.slice(axis)];
    const out = makeOutput(backend, outShape, xs[0].dtype, true);
    const inner = sizeOf(shape.slice(axis));
    concatInto(backend, xs, xs.map(() => inner), sizeOf(shape.slice(0, axis)), out);
    return out;
  };
}

function padKernel(backendName: string) {
  return (args: KernelArgs) => {
    const { inputs: { x }, backend, attrs } = args;
    if (x.dtype === 'string' || x.dtype === 'complex64') return originalKernel('PadV2', backendName)!.kernelFunc(args as any);
    const paddings = attrs.paddings as [number, number][];
    const outShape = x.shape.map((d, i) => paddings[i][0] + d + paddings[i][1]);
    const out = makeOutput(backend, outShape, x.dtype);
    const O = view(backend, out), X = view(backend, x);
    const c = attrs.constantValue as number;
    if (c !== 0) O.fill(c);
    if (sizeOf(x.shape) === 0) return out;
    const r = x.shape.length;
    const oStr = new Array<number>(r);
    let acc = 1;
    for (let i = r - 1; i >= 0; i--) {
      oStr[i] = acc;
      acc *= outShape[i];
    }
    const run = x.shape[r - 1];
    let base = 0;
    for (let i = 0; i < r; i++) base += paddings[i][0] * oStr[i];
    const idx = new Array<number>(Math.max(0, r - 1)).fill(0);
    let oo = base;
    const rows = X.length / run;
    for (let row = 0; row < rows; row++) {
      O.set(X.subarray(row * run, (row + 1) * run), oo);
      for (let d = r - 2; d >= 0; d--) {
        idx[d]++;
        oo += oStr[d];
        if (idx[d] < x.shape[d]) break;
        oo -= oStr[d] * x.shape[d];
        idx[d] = 0;
      }
    }
    return out;
  };
}

/** Mean as the tier's native Sum scaled by 1/n (tfjs-cpu transposes and loops in JavaScript). */
function meanKernel(backendName: string, reduceSum: NativeAddon['reduceSum']) {
  return (args: KernelArgs) => {
    const { inputs: { x }, backend, attrs } = args;
    if (x.dtype !== 'float32') return originalKernel('Mean', backendName)!.kernelFunc(args as any);
    const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape);
    let [outShape] = tf.backend_util.computeOutAndReduceShapes(x.shape, axes);
    const n = axes.reduce((a, ax) => a * x.shape[ax], 1);
    if (attrs.keepDims) outShape = tf.backend_util.expandShapeToKeepDim(outShape, axes);
    const out = makeOutput(backend, outShape, 'float32');
    const o = viewF32(backend, out);
    reduceSum(viewF32(backend, x), x.shape, axes, o);
    const inv = 1 / n;
    for (let i = 0; i < o.length; i++) o[i] *= inv;
    return out;
  };
}

/** NHWC pooling geometry when the windows tile the input without padding (ModifiedResNet's k×k, stride k). */
function tiledPool(xShape: number[], attrs: Record<string, unknown>): { N: number; H: number; W: number; C: number; k: number; OH: number; OW: number } | null {
  const fs = attrs.filterSize as number | [number, number], st = attrs.strides as number | [number, number];
  const [kh, kw] = Array.isArray(fs) ? fs : [fs, fs];
  const [sh, sw] = Array.isArray(st) ? st : [st, st];
  if (attrs.pad !== 'valid' || kh !== kw || sh !== kh || sw !== kw || xShape.length !== 4) return null;
  const [N, H, W, C] = xShape;
  return { N, H, W, C, k: kh, OH: Math.floor(H / kh), OW: Math.floor(W / kw) };
}

function avgPoolKernel(backendName: string) {
  return (args: KernelArgs) => {
    const { inputs: { x }, backend, attrs } = args;
    const g = x.dtype === 'float32' ? tiledPool(x.shape, attrs) : null;
    if (!g) return originalKernel('AvgPool', backendName)!.kernelFunc(args as any);
    const out = makeOutput(backend, [g.N, g.OH, g.OW, g.C], 'float32');
    const X = viewF32(backend, x), O = viewF32(backend, out);
    const inv = 1 / (g.k * g.k);
    for (let n = 0; n < g.N; n++) for (let oh = 0; oh < g.OH; oh++) for (let ow = 0; ow < g.OW; ow++) {
      const o = ((n * g.OH + oh) * g.OW + ow) * g.C;
      for (let i = 0; i < g.k; i++) for (let j = 0; j < g.k; j++) {
        const src = ((n * g.H + oh * g.k + i) * g.W + ow * g.k + j) * g.C;
        for (let c = 0; c < g.C; c++) O[o + c] += X[src + c];
      }
      for (let c = 0; c < g.C; c++) O[o + c] *= inv;
    }
    return out;
  };
}

function avgPoolGradKernel(backendName: string) {
  return (args: KernelArgs) => {
    const { inputs: { dy, input }, backend, attrs } = args;
    const g = dy.dtype === 'float32' ? tiledPool(input.shape, attrs) : null;
    if (!g) return originalKernel('AvgPoolGrad', backendName)!.kernelFunc(args as any);
    const dx = makeOutput(backend, input.shape, 'float32');
    const D = viewF32(backend, dy), X = viewF32(backend, dx);
    const inv = 1 / (g.k * g.k);
    for (let n = 0; n < g.N; n++) for (let oh = 0; oh < g.OH; oh++) for (let ow = 0; ow < g.OW; ow++) {
      const o = ((n * g.OH + oh) * g.OW + ow) * g.C;
      for (let i = 0; i < g.k; i++) for (let j = 0; j < g.k; j++) {
        const dst = ((n * g.H + oh * g.k + i) * g.W + ow * g.k + j) * g.C;
        for (let c = 0; c < g.C; c++) X[dst + c] = D[o + c] * inv;
      }
    }
    return dx;
  };
}

export const ELEMENTWISE_KERNEL_NAMES = [...Object.keys(BINARY), 'Softmax', 'Slice', 'SplitV', 'Concat', 'Pack', 'PadV2', 'Mean', 'AvgPool', 'AvgPoolGrad'];

/** Installs these kernels on the `native` backend; `addon` supplies the vectorised exp. */
export function installElementwiseKernels(addon: NativeAddon, backendName: string): void {
  const kernels: Record<string, (args: KernelArgs) => unknown> = {
    Softmax: softmaxKernel(backendName, (x, y) => addon.exp(x, y)),
    Slice: sliceKernel(backendName),
    SplitV: splitVKernel(backendName),
    Concat: concatKernel(backendName),
    Pack: packKernel(backendName),
    PadV2: padKernel(backendName),
    Mean: meanKernel(backendName, (x, shape, axes, y) => addon.reduceSum(x, shape, axes, y)),
    AvgPool: avgPoolKernel(backendName),
    AvgPoolGrad: avgPoolGradKernel(backendName),
  };
  for (const name of Object.keys(BINARY)) kernels[name] = binaryKernel(name, backendName, addon);
  for (const [kernelName, fn] of Object.entries(kernels)) overrideKernel({ kernelName, backendName, kernelFunc: fn as unknown as tf.KernelFunc });
}

export function uninstallElementwiseKernels(backendName: string): void {
  restoreKernels(backendName, ELEMENTWISE_KERNEL_NAMES);
}
