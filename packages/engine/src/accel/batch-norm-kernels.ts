/**
 * Fused training-mode batch normalisation over the channels (last axis) of NHWC activations,
 * as nn.BatchNorm2d computes it: the forward pass gives y, the batch mean and the biased
 * variance in two passes; the backward pass gives dx, dγ, dβ in two passes — where the composed
 * version runs a dozen broadcasting kernels each way. Registered on the `native` backend: the
 * addon's vectorised loops where it has them (the openblas tier), else plain loops here.
 */
import { tf } from '../tf.js';
import { type KernelBackend, type TensorInfo, makeOutput, overrideKernel, restoreKernels, viewF32 } from './backend-memory.js';
import type { NativeAddon } from './native.js';

type KernelArgs = { inputs: Record<string, TensorInfo>; backend: KernelBackend; attrs: Record<string, unknown> };

export const BATCH_NORM = 'OpenclipBatchNorm';
export const BATCH_NORM_GRAD = 'OpenclipBatchNormGrad';

let gradientRegistered = false;
const active = new Set<string>();

/** Whether the fused batch norm runs on the current backend. */
export function fusedBatchNormActive(): boolean {
  return active.has(tf.getBackend());
}

function registerGradient(): void {
  if (gradientRegistered) return;
  gradientRegistered = true;
  tf.registerGradient({
    kernelName: BATCH_NORM,
    inputsToSave: ['x', 'gamma'],
    outputsToSave: [false, true, true],
    gradFunc: (dy, saved, attrs) => {
      const [x, gamma, mean, variance] = saved;
      const d = Array.isArray(dy) ? dy[0] : dy;
      const [dx, dg, db] = tf.engine().runKernel(BATCH_NORM_GRAD, { dy: d, x, gamma, mean, variance }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
      return { x: () => dx, gamma: () => dg, beta: () => db };
    },
  });
}

const forward = ({ inputs: { x, gamma, beta }, backend, attrs }: KernelArgs) => {
  const C = x.shape[x.shape.length - 1];
  const X = viewF32(backend, x), G = viewF32(backend, gamma), B = viewF32(backend, beta);
  const rows = C === 0 ? 0 : X.length / C;
  const y = makeOutput(backend, x.shape, 'float32', true);
  const mean = makeOutput(backend, [C], 'float32');
  const variance = makeOutput(backend, [C], 'float32');
  const Y = viewF32(backend, y), M = viewF32(backend, mean), V = viewF32(backend, variance);
  const s = new Float64Array(C), s2 = new Float64Array(C);
  for (let r = 0; r < rows; r++) {
    const o = r * C;
    for (let c = 0; c < C; c++) s[c] += X[o + c];
  }
  for (let c = 0; c < C; c++) M[c] = s[c] / rows;
  for (let r = 0; r < rows; r++) {
    const o = r * C;
    for (let c = 0; c < C; c++) {
      const d = X[o + c] - M[c];
      s2[c] += d * d;
    }
  }
  const eps = attrs.eps as number;
  const scale = new Float32Array(C), shift = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    V[c] = s2[c] / rows;
    scale[c] = G[c] / Math.sqrt(V[c] + eps);
    shift[c] = B[c] - M[c] * scale[c];
  }
  for (let r = 0; r < rows; r++) {
    const o = r * C;
    for (let c = 0; c < C; c++) Y[o + c] = X[o + c] * scale[c] + shift[c];
  }
  return [y, mean, variance];
};

const backward = ({ inputs: { dy, x, gamma, mean, variance }, backend, attrs }: KernelArgs) => {
  const C = x.shape[x.shape.length - 1];
  const D = viewF32(backend, dy), X = viewF32(backend, x), G = viewF32(backend, gamma), M = viewF32(backend, mean), V = viewF32(backend, variance);
  const rows = C === 0 ? 0 : X.length / C;
  const eps = attrs.eps as number;
  const dx = makeOutput(backend, x.shape, 'float32', true);
  const dg = makeOutput(backend, [C], 'float32', true);
  const db = makeOutput(backend, [C], 'float32', true);
  const DX = viewF32(backend, dx), DG = viewF32(backend, dg), DB = viewF32(backend, db);
  const rstd = new Float64Array(C), sdy = new Float64Array(C), sdyx = new Float64Array(C);
  for (let c = 0; c < C; c++) rstd[c] = 1 / Math.sqrt(V[c] + eps);
  for (let r = 0; r < rows; r++) {
    const o = r * C;
    for (let c = 0; c < C; c++) {
      const g = D[o + c];
      sdy[c] += g;
      sdyx[c] += g * (X[o + c] - M[c]) * rstd[c];
    }
  }
  const a = new Float32Array(C), b = new Float32Array(C), k = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    DB[c] = sdy[c];
    DG[c] = sdyx[c];
    // dx = γ·rstd·(dy − mean(dy) − x̂·mean(dy·x̂)), with x̂ = (x − μ)·rstd
    k[c] = G[c] * rstd[c];
    a[c] = sdy[c] / rows;
    b[c] = (sdyx[c] / rows) * rstd[c];
  }
  for (let r = 0; r < rows; r++) {
    const o = r * C;
    for (let c = 0; c < C; c++) DX[o + c] = k[c] * (D[o + c] - a[c] - (X[o + c] - M[c]) * b[c]);
  }
  return [dx, dg, db];
};

/** The same two kernels on the addon's loops. */
function addonKernels(bn: Required<Pick<NativeAddon, 'batchNormFwd' | 'batchNormBwd'>>): [tf.KernelFunc, tf.KernelFunc] {
  const fwd = ({ inputs: { x, gamma, beta }, backend, attrs }: KernelArgs) => {
    const C = x.shape[x.shape.length - 1];
    const X = viewF32(backend, x);
    const y = makeOutput(backend, x.shape, 'float32', true);
    const mean = makeOutput(backend, [C], 'float32', true);
    const variance = makeOutput(backend, [C], 'float32', true);
    bn.batchNormFwd(X, viewF32(backend, gamma), viewF32(backend, beta), C === 0 ? 0 : X.length / C, C, attrs.eps as number,
      viewF32(backend, y), viewF32(backend, mean), viewF32(backend, variance));
    return [y, mean, variance];
  };
  const bwd = ({ inputs: { dy, x, gamma, mean, variance }, backend, attrs }: KernelArgs) => {
    const C = x.shape[x.shape.length - 1];
    const X = viewF32(backend, x);
    const dx = makeOutput(backend, x.shape, 'float32', true);
    const dg = makeOutput(backend, [C], 'float32', true);
    const db = makeOutput(backend, [C], 'float32', true);
    bn.batchNormBwd(viewF32(backend, dy), X, viewF32(backend, gamma), viewF32(backend, mean), viewF32(backend, variance), C === 0 ? 0 : X.length / C, C,
      attrs.eps as number, viewF32(backend, dx), viewF32(backend, dg), viewF32(backend, db));
    return [dx, dg, db];
  };
  return [fwd as unknown as tf.KernelFunc, bwd as unknown as tf.KernelFunc];
}

export function installBatchNormKernels(backendName: string, addon: NativeAddon): void {
  registerGradient();
  const [fwd, bwd] = addon.batchNormFwd && addon.batchNormBwd
    ? addonKernels(addon as Required<Pick<NativeAddon, 'batchNormFwd' | 'batchNormBwd'>>)
    : [forward as unknown as tf.KernelFunc, backward as unknown as tf.KernelFunc];
  overrideKernel({ kernelName: BATCH_NORM, backendName, kernelFunc: fwd });
  overrideKernel({ kernelName: BATCH_NORM_GRAD, backendName, kernelFunc: bwd });
  active.add(backendName);
}

export function uninstallBatchNormKernels(backendName: string): void {
  active.delete(backendName);
  restoreKernels(backendName, [BATCH_NORM, BATCH_NORM_GRAD]);
}
