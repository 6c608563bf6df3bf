/**
 * Packed q|k|v projections [B, T, 3·H·d] → q, k, v as [B, H, T, d] in one pass, and its gradient
 * (the three head-major gradients written back into one [B, T, 3·H·d] array) in one pass. The
 * composite path (a rank-5 transpose, then an unstack) copies everything twice each way.
 * Plain loops over the tensors' own arrays, installed with the accelerated tiers.
 */
import { tf } from '../tf.js';
import { type KernelBackend, type TensorInfo, makeOutput, overrideKernel, restoreKernels, viewF32 } from './backend-memory.js';

type KernelArgs = { inputs: Record<string, TensorInfo>; backend: KernelBackend; attrs: Record<string, unknown> };

export const SPLIT_QKV = 'OpenclipSplitQkv';
export const MERGE_QKV = 'OpenclipMergeQkv';

let gradientRegistered = false;

function registerGradient(): void {
  if (gradientRegistered) return;
  gradientRegistered = true;
  tf.registerGradient({
    kernelName: SPLIT_QKV,
    gradFunc: (dys, _saved, attrs) => {
      const { heads, shape } = attrs as unknown as { heads: number; shape: [number, number, number] };
      const [b, t, e3] = shape;
      const headShape = [b, heads, t, e3 / 3 / heads];
      const ds = (Array.isArray(dys) ? dys : [dys]).map((d) => d ?? tf.zeros(headShape));
      return { qkv: () => tf.engine().runKernel(MERGE_QKV, { dq: ds[0], dk: ds[1], dv: ds[2] }, { heads, shape } as never) as tf.Tensor };
    },
  });
}

/** Index arithmetic shared by both directions: calls `row(packedOffset, headOffset, part)` per d-long row. */
function eachRow(b: number, t: number, heads: number, d: number, row: (packed: number, head: number, part: number) => void): void {
  const e = heads * d;
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < t; j++) {
      const base = (i * t + j) * 3 * e;
      for (let part = 0; part < 3; part++) {
        for (let h = 0; h < heads; h++) row(base + part * e + h * d, ((i * heads + h) * t + j) * d, part);
      }
    }
  }
}

export function installFusedHeads(backendName: string): void {
  registerGradient();
  const split = ({ inputs: { qkv }, backend, attrs }: KernelArgs) => {
    const heads = attrs.heads as number;
    const [b, t, e3] = qkv.shape;
    const d = e3 / 3 / heads;
    const outs = [0, 1, 2].map(() => makeOutput(backend, [b, heads, t, d], 'float32', true));
    const X = viewF32(backend, qkv);
    const Y = outs.map((o) => viewF32(backend, o));
    eachRow(b, t, heads, d, (src, dst, part) => {
      const y = Y[part];
      for (let k = 0; k < d; k++) y[dst + k] = X[src + k];
    });
    return outs;
  };
  const merge = ({ inputs: { dq, dk, dv }, backend, attrs }: KernelArgs) => {
    const heads = attrs.heads as number;
    const [b, t, e3] = attrs.shape as number[];
    const d = e3 / 3 / heads;
    const out = makeOutput(backend, [b, t, e3], 'float32', true);
    const Y = viewF32(backend, out);
    const D = [dq, dk, dv].map((x) => viewF32(backend, x));
    eachRow(b, t, heads, d, (dst, src, part) => {
      const x = D[part];
      for (let k = 0; k < d; k++) Y[dst + k] = x[src + k];
    });
    return out;
  };
  overrideKernel({ kernelName: SPLIT_QKV, backendName, kernelFunc: split as unknown as tf.KernelFunc });
  overrideKernel({ kernelName: MERGE_QKV, backendName, kernelFunc: merge as unknown as tf.KernelFunc });
}

export function uninstallFusedHeads(backendName: string): void {
  restoreKernels(backendName, [SPLIT_QKV, MERGE_QKV]);
}
