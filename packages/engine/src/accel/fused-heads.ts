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

/**
 * Copies between the packed layout [B, T, 3, H, d] and three head-major arrays [B, H, T, d], in
 * the direction `toHeads` says, one d-long row at a time (a plain loop: a per-row callback was
 * measured 2× slower).
 */
function copyRows(packed: Float32Array, parts: Float32Array[], b: number, t: number, heads: number, d: number, toHeads: boolean): void {
  const e = heads * d;
  for (let part = 0; part < 3; part++) {
    const y = parts[part];
    for (let i = 0; i < b; i++) {
      for (let j = 0; j < t; j++) {
        const p0 = (i * t + j) * 3 * e + part * e;
        for (let h = 0; h < heads; h++) {
          const p = p0 + h * d, q = ((i * heads + h) * t + j) * d;
          if (toHeads) for (let k = 0; k < d; k++) y[q + k] = packed[p + k];
          else for (let k = 0; k < d; k++) packed[p + k] = y[q + k];
        }
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
    copyRows(viewF32(backend, qkv), outs.map((o) => viewF32(backend, o)), b, t, heads, d, true);
    return outs;
  };
  const merge = ({ inputs: { dq, dk, dv }, backend, attrs }: KernelArgs) => {
    const heads = attrs.heads as number;
    const [b, t, e3] = attrs.shape as number[];
    const d = e3 / 3 / heads;
    const out = makeOutput(backend, [b, t, e3], 'float32', true);
    copyRows(viewF32(backend, out), [dq, dk, dv].map((x) => viewF32(backend, x)), b, t, heads, d, false);
    return out;
  };
  overrideKernel({ kernelName: SPLIT_QKV, backendName, kernelFunc: split as unknown as tf.KernelFunc });
  overrideKernel({ kernelName: MERGE_QKV, backendName, kernelFunc: merge as unknown as tf.KernelFunc });
}

export function uninstallFusedHeads(backendName: string): void {
  restoreKernels(backendName, [SPLIT_QKV, MERGE_QKV]);
}
