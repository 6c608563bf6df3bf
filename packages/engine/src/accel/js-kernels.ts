/**
 * Kernels in plain JavaScript over the wasm heap, for the npm-only tier (no native addon) and
 * shared with the native tier: alias Identity (tfjs clones every tensor saved for backprop),
 * row-copy Unpack and GatherV2, a tiled Transpose, and matrix products steered onto wasm's fast
 * XNNPACK path (which 4.22 takes only for unbatched, untransposed products): transposed
 * operands are transposed first, batched × shared-weight products are folded into one 2-D one.
 */
import { tf } from '../tf.js';
import { type KernelBackend, type TensorInfo, dispose, makeOutput, originalKernel, overrideKernel, restoreKernels, sizeOf, view } from './backend-memory.js';

type KernelArgs = { inputs: Record<string, TensorInfo>; backend: KernelBackend; attrs: Record<string, unknown> };
type Arr = Float32Array | Int32Array | Uint8Array;

/** Drops unit axes and merges input axes that stay adjacent under the permutation. */
export function collapseTranspose(shape: number[], perm: number[]): { shape: number[]; perm: number[] } {
  const keep: number[] = [];
  const remap = shape.map((d) => (d === 1 ? -1 : keep.push(d) - 1));
  const p1 = perm.map((a) => remap[a]).filter((a) => a >= 0);
  const groups: { start: number; size: number }[] = [];
  for (let k = 0; k < p1.length; k++) {
    if (k > 0 && p1[k] === p1[k - 1] + 1) groups[groups.length - 1].size *= keep[p1[k]];
    else groups.push({ start: p1[k], size: keep[p1[k]] });
  }
  const byInput = groups.map((_, g) => g).sort((a, b) => groups[a].start - groups[b].start);
  const pos = new Array<number>(groups.length);
  byInput.forEach((g, i) => (pos[g] = i));
  return { shape: byInput.map((g) => groups[g].size), perm: groups.map((_, g) => pos[g]) };
}

export function transposeInto(x: Arr, shape: number[], perm: number[], y: Arr): void {
  const c = collapseTranspose(shape, perm);
  const r = c.shape.length;
  if (r <= 1) {
    y.set(x.subarray(0, y.length));
    return;
  }
  const inStride = new Array<number>(r);
  inStride[r - 1] = 1;
  for (let i = r - 2; i >= 0; i--) inStride[i] = inStride[i + 1] * c.shape[i + 1];
  const os = c.perm.map((p) => c.shape[p]);
  const is = c.perm.map((p) => inStride[p]);
  const R = os[r - 2], C = os[r - 1], sR = is[r - 2], sC = is[r - 1];
  const outer = y.length / (R * C);
  const idx = new Array<number>(Math.max(0, r - 2)).fill(0);
  let base = 0, o = 0;
  const T = 32;
  for (let n = 0; n < outer; n++) {
    if (sC === 1) {
      for (let i = 0; i < R; i++) y.set(x.subarray(base + i * sR, base + i * sR + C), o + i * C);
    } else {
      for (let i0 = 0; i0 < R; i0 += T) {
        const i1 = Math.min(R, i0 + T);
        for (let j0 = 0; j0 < C; j0 += T) {
          const j1 = Math.min(C, j0 + T);
          for (let i = i0; i < i1; i++) {
            const src = base + i * sR, dst = o + i * C;
            for (let j = j0; j < j1; j++) y[dst + j] = x[src + j * sC];
          }
        }
      }
    }
    o += R * C;
    for (let d = r - 3; d >= 0; d--) {
      idx[d]++;
      base += is[d];
      if (idx[d] < os[d]) break;
      base -= is[d] * os[d];
      idx[d] = 0;
    }
  }
}

export function identityKernel(orig: () => tf.KernelConfig) {
  return (args: KernelArgs) => {
    const { inputs: { x }, backend } = args;
    if (x.dtype === 'string') return orig().kernelFunc(args as any);
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

export function unpackKernel(orig: () => tf.KernelConfig) {
  return (args: KernelArgs) => {
    const { inputs: { value }, backend, attrs } = args;
    if (value.dtype === 'string') return orig().kernelFunc(args as any);
    const axis = tf.util.parseAxisParam(attrs.axis as number, value.shape)[0];
    const n = value.shape[axis];
    const outShape = value.shape.filter((_, i) => i !== axis);
    const outer = sizeOf(value.shape.slice(0, axis)), inner = sizeOf(value.shape.slice(axis + 1));
    const outs = Array.from({ length: n }, () => makeOutput(backend, outShape, value.dtype, true));
    const src = view(backend, value);
    outs.forEach((o, i) => {
      const dst = view(backend, o);
      for (let r = 0; r < outer; r++) dst.set(src.subarray((r * n + i) * inner, (r * n + i + 1) * inner), r * inner);
    });
    return outs;
  };
}

/** Row gather along axis 0 (token embeddings, pooling) instead of wasm's per-element loop. */
export function gatherKernel(orig: () => tf.KernelConfig) {
  return (args: KernelArgs) => {
    const { inputs: { x, indices }, backend, attrs } = args;
    const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0];
    if (axis !== 0 || ((attrs.batchDims as number) ?? 0) !== 0 || x.dtype === 'string' || indices.dtype !== 'int32') {
      return orig().kernelFunc(args as any);
    }
    const rows = x.shape[0], row = sizeOf(x.shape.slice(1)), n = sizeOf(indices.shape);
    const idx0 = view(backend, indices);
    for (let i = 0; i < n; i++) if (idx0[i] < 0 || idx0[i] >= rows) return orig().kernelFunc(args as any);
    const out = makeOutput(backend, [...indices.shape, ...x.shape.slice(1)], x.dtype, true);
    const src = view(backend, x), dst = view(backend, out), ids = view(backend, indices);
    for (let i = 0; i < n; i++) dst.set(src.subarray(ids[i] * row, (ids[i] + 1) * row), i * row);
    return out;
  };
}

export const JS_KERNEL_NAMES = ['Identity', 'Unpack', 'GatherV2', 'Transpose', 'BatchMatMul'] as const;

/** Installs the JS kernels on wasm (the npm-only tier). */
export function installJsKernels(): void {
  const backendName = 'wasm';
  const orig = (name: string) => () => originalKernel(name, backendName)!;
  const transpose = (args: KernelArgs) => {
    const { inputs: { x }, backend, attrs } = args;
    if (x.dtype !== 'float32' && x.dtype !== 'int32') return orig('Transpose')().kernelFunc(args as any);
    const perm = attrs.perm as number[];
    const out = makeOutput(backend, perm.map((p) => x.shape[p]), x.dtype);
    transposeInto(view(backend, x), x.shape, perm, view(backend, out));
    return out;
  };
  const batchMatMul = (args: KernelArgs) => {
    const { inputs: { a, b }, backend, attrs } = args;
    const ta = !!attrs.transposeA, tb = !!attrs.transposeB;
    const origMm = orig('BatchMatMul')();
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return origMm.kernelFunc(args as any);
    const ra = a.shape.length, rb = b.shape.length;
    const batchA = sizeOf(a.shape.slice(0, -2)), batchB = sizeOf(b.shape.slice(0, -2));
    const M = ta ? a.shape[ra - 1] : a.shape[ra - 2], K = ta ? a.shape[ra - 2] : a.shape[ra - 1];
    const N = tb ? b.shape[rb - 2] : b.shape[rb - 1];
    const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    if (K === 0) {
      // XNNPACK leaves the output unwritten for an empty inner dimension
      const z = makeOutput(backend, [...outBatch, M, N], 'float32');
      view(backend, z).fill(0);
      return z;
    }
    const twoD = batchA === 1 && batchB === 1;
    const fold = batchB === 1 && batchA > 1 && !ta;
    if (!twoD && !fold) return origMm.kernelFunc(args as any);
    const rows = twoD ? M : batchA * M;
    const temps: TensorInfo[] = [];
    const t2 = (t: TensorInfo, r: number, c: number): TensorInfo => {
      const out = makeOutput(backend, [c, r], 'float32');
      transposeInto(view(backend, t), [r, c], [1, 0], view(backend, out));
      temps.push(out);
      return out;
    };
    const A = ta ? t2(a, K, M) : a;
    const B = tb ? t2(b, N, K) : b;
    const res = origMm.kernelFunc({
      inputs: { a: { ...A, shape: [1, rows, K] }, b: { ...B, shape: [1, K, N] } } as any,
      backend: backend as any,
      attrs: { transposeA: false, transposeB: false },
    }) as TensorInfo;
    dispose(backend, ...temps);
    return { ...res, shape: [...outBatch, M, N] };
  };
  const kernels: Record<string, (args: KernelArgs) => unknown> = {
    Identity: identityKernel(orig('Identity')),
    Unpack: unpackKernel(orig('Unpack')),
    GatherV2: gatherKernel(orig('GatherV2')),
    Transpose: transpose,
    BatchMatMul: batchMatMul,
  };
  for (const [kernelName, fn] of Object.entries(kernels)) overrideKernel({ kernelName, backendName, kernelFunc: fn as unknown as tf.KernelFunc });
}

export function uninstallJsKernels(): void {
  restoreKernels('wasm', JS_KERNEL_NAMES);
}
