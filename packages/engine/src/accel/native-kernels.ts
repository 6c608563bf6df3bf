/**
 * The accelerated tier: TensorFlow.js wasm kernels replaced by native ones working in place on
 * the wasm heap — matrix products through OpenBLAS sgemm (all transpose and batch-broadcast
 * cases of BatchMatMul and _FusedMatMul), Transpose, Sum, Exp, Erf — plus the JS Identity,
 * Unpack and GatherV2 of js-kernels.ts. Anything unsupported (dtype, two-sided batch broadcast) falls back to
 * the backend's own kernel, so results match tfjs everywhere.
 */
import { tf } from '../tf.js';
import type { NativeAddon } from './native.js';
import { applyActivation } from './complete-kernels.js';
import { gatherKernel, identityKernel, unpackKernel } from './js-kernels.js';
import {
  type KernelBackend,
  type TensorInfo,
  dispose,
  makeOutput,
  originalKernel,
  overrideKernel,
  restoreKernels,
  sizeOf,
  view,
  viewF32,
} from './backend-memory.js';

type KernelArgs = { inputs: Record<string, TensorInfo>; backend: KernelBackend; attrs: Record<string, unknown> };

interface Geometry {
  M: number;
  N: number;
  K: number;
  batch: number;
  strideA: number;
  strideB: number;
  outShape: number[];
}

/** Shapes of a (batched) product; null when the native path does not cover it. */
function geometry(a: TensorInfo, b: TensorInfo, ta: boolean, tb: boolean): Geometry | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return null;
  const ra = a.shape.length, rb = b.shape.length;
  const M = ta ? a.shape[ra - 1] : a.shape[ra - 2];
  const K = ta ? a.shape[ra - 2] : a.shape[ra - 1];
  const Kb = tb ? b.shape[rb - 1] : b.shape[rb - 2];
  const N = tb ? b.shape[rb - 2] : b.shape[rb - 1];
  if (K !== Kb) return null; // let tfjs raise its own error
  const batchShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batch = sizeOf(batchShape), batchA = sizeOf(a.shape.slice(0, -2)), batchB = sizeOf(b.shape.slice(0, -2));
  if (!((batchA === batch || batchA === 1) && (batchB === batch || batchB === 1))) return null;
  return { M, N, K, batch, strideA: batchA === 1 ? 0 : M * K, strideB: batchB === 1 ? 0 : K * N, outShape: [...batchShape, M, N] };
}

export function installNativeKernels(addon: NativeAddon, backendName: string): void {
  const orig = (name: string) => originalKernel(name, backendName)!;

  const product = (backend: KernelBackend, a: TensorInfo, b: TensorInfo, g: Geometry, ta: boolean, tb: boolean, bias: TensorInfo | null) => {
    const out = makeOutput(backend, g.outShape, 'float32', g.K > 0);
    addon.sgemm(ta, tb, g.batch, g.M, g.N, g.K, viewF32(backend, a), g.strideA, viewF32(backend, b), g.strideB, viewF32(backend, out),
      g.M * g.N, bias ? viewF32(backend, bias) : null);
    return out;
  };

  const batchMatMul = (args: KernelArgs) => {
    const { inputs: { a, b }, backend, attrs } = args;
    const ta = !!attrs.transposeA, tb = !!attrs.transposeB;
    const g = geometry(a, b, ta, tb);
    if (!g) return orig('BatchMatMul').kernelFunc(args as any);
    return product(backend, a, b, g, ta, tb, null);
  };

  const fusedMatMul = (args: KernelArgs) => {
    const { inputs: { a, b, bias, preluActivationWeights }, backend, attrs } = args;
    const ta = !!attrs.transposeA, tb = !!attrs.transposeB;
    const g = geometry(a, b, ta, tb);
    if (!g || (bias && bias.dtype !== 'float32')) return orig('_FusedMatMul').kernelFunc(args as any);
    const rowBias = bias && sizeOf(bias.shape) === g.N && bias.shape[bias.shape.length - 1] === g.N;
    let y = product(backend, a, b, g, ta, tb, rowBias ? bias : null);
    if (bias && !rowBias) {
      const added = orig('Add').kernelFunc({ inputs: { a: y, b: bias } as any, backend: backend as any, attrs: {} }) as TensorInfo;
      dispose(backend, y);
      y = added;
    }
    return applyActivation(backend, backendName, y, attrs.activation as string, preluActivationWeights, attrs.leakyreluAlpha as number);
  };

  const transpose = (args: KernelArgs) => {
    const { inputs: { x }, backend, attrs } = args;
    if (x.dtype !== 'float32' && x.dtype !== 'int32') return orig('Transpose').kernelFunc(args as any);
    const perm = attrs.perm as number[];
    if (perm.every((p, i) => p === i)) {
      backend.incRef(x.dataId);
      return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
    }
    const out = makeOutput(backend, perm.map((p) => x.shape[p]), x.dtype, true);
    addon.transpose(view(backend, x) as Float32Array, x.shape, perm, view(backend, out) as Float32Array);
    return out;
  };

  const sum = (args: KernelArgs) => {
    const { inputs: { x }, backend, attrs } = args;
    if (x.dtype !== 'float32') return orig('Sum').kernelFunc(args as any);
    const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape);
    let [outShape] = tf.backend_util.computeOutAndReduceShapes(x.shape, axes);
    if (attrs.keepDims) outShape = tf.backend_util.expandShapeToKeepDim(outShape, axes);
    const out = makeOutput(backend, outShape, 'float32');
    addon.reduceSum(viewF32(backend, x), x.shape, axes, viewF32(backend, out));
    return out;
  };

  const unary = (name: 'Exp' | 'Erf', fn: (x: Float32Array, y: Float32Array) => void) => (args: KernelArgs) => {
    const { inputs: { x }, backend } = args;
    if (x.dtype !== 'float32') return orig(name).kernelFunc(args as any);
    const out = makeOutput(backend, x.shape, 'float32', true);
    fn(viewF32(backend, x), viewF32(backend, out));
    return out;
  };

  const kernels: Record<string, (args: KernelArgs) => unknown> = {
    GatherV2: gatherKernel(() => orig('GatherV2')),
    BatchMatMul: batchMatMul,
    _FusedMatMul: fusedMatMul,
    Transpose: transpose,
    Sum: sum,
    Exp: unary('Exp', (x, y) => addon.exp(x, y)),
    Erf: unary('Erf', (x, y) => addon.erf(x, y)),
    Identity: identityKernel(() => orig('Identity')),
    Unpack: unpackKernel(() => orig('Unpack')),
  };
  for (const [kernelName, fn] of Object.entries(kernels)) {
    overrideKernel({ kernelName, backendName, kernelFunc: fn as unknown as tf.KernelFunc });
  }
}

export const NATIVE_KERNEL_NAMES = ['GatherV2', 'BatchMatMul', '_FusedMatMul', 'Transpose', 'Sum', 'Exp', 'Erf', 'Identity', 'Unpack'] as const;

/** Puts back the backend's own kernels (re-install the completeness kernels afterwards). */
export function uninstallNativeKernels(backendName: string): void {
  restoreKernels(backendName, NATIVE_KERNEL_NAMES);
}
