/**
 * Fused kernels behind the `ops` seam and the optimizer: layer norm (forward saves mean and
 * 1/std; backward gives dx, dγ, dβ in one pass), exact-erf GELU forward/backward, and one
 * AdamW update per parameter (PyTorch's torch.optim.AdamW arithmetic). Layer norm and GELU are
 * registered on the wasm backend when the native addon is present; AdamW on every backend
 * (native on wasm when available, a JS loop otherwise).
 */
import { tf } from '../tf.js';
import type { NativeAddon } from './native.js';
import { type KernelBackend, type TensorInfo, makeOutput, overrideKernel, restoreKernels, sizeOf, viewF32 } from './backend-memory.js';

type KernelArgs = { inputs: Record<string, TensorInfo>; backend: KernelBackend; attrs: Record<string, unknown> };

export const LAYER_NORM = 'OpenclipLayerNorm';
export const LAYER_NORM_GRAD = 'OpenclipLayerNormGrad';
export const GELU = 'OpenclipGelu';
export const GELU_GRAD = 'OpenclipGeluGrad';
export const ADAMW = 'OpenclipAdamW';

let gradientsRegistered = false;

function registerGradients(): void {
  if (gradientsRegistered) return;
  gradientsRegistered = true;
  tf.registerGradient({
    kernelName: LAYER_NORM,
    inputsToSave: ['x', 'gamma'],
    outputsToSave: [false, true, true],
    gradFunc: (dy, saved) => {
      const [x, gamma, mean, rstd] = saved;
      const d = Array.isArray(dy) ? dy[0] : dy;
      const [dx, dg, db] = tf.engine().runKernel(LAYER_NORM_GRAD, { dy: d, x, mean, rstd, gamma }, {}) as tf.Tensor[];
      return { x: () => dx, gamma: () => dg, beta: () => db };
    },
  });
  tf.registerGradient({
    kernelName: GELU,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved;
      return { x: () => tf.engine().runKernel(GELU_GRAD, { dy: dy as tf.Tensor, x }, {}) as tf.Tensor };
    },
  });
}

let fusedOn = false;

/** Whether ops should take the fused path: the current backend has the fused kernels. */
export function fusedOpsActive(): boolean {
  return fusedOn && tf.getBackend() === 'wasm';
}

export function installFusedKernels(addon: NativeAddon): void {
  registerGradients();
  const backendName = 'wasm';
  const layerNorm = ({ inputs: { x, gamma, beta }, backend, attrs }: KernelArgs) => {
    const C = x.shape[x.shape.length - 1];
    const R = sizeOf(x.shape) / C;
    const statShape = x.shape.slice(0, -1);
    const y = makeOutput(backend, x.shape, 'float32');
    const mean = makeOutput(backend, statShape, 'float32');
    const rstd = makeOutput(backend, statShape, 'float32');
    addon.layerNormFwd(viewF32(backend, x), viewF32(backend, gamma), viewF32(backend, beta), R, C, attrs.eps as number,
      viewF32(backend, y), viewF32(backend, mean), viewF32(backend, rstd));
    return [y, mean, rstd];
  };
  const layerNormGrad = ({ inputs: { dy, x, mean, rstd, gamma }, backend }: KernelArgs) => {
    const C = x.shape[x.shape.length - 1];
    const R = sizeOf(x.shape) / C;
    const dx = makeOutput(backend, x.shape, 'float32');
    const dg = makeOutput(backend, [C], 'float32');
    const db = makeOutput(backend, [C], 'float32');
    addon.layerNormBwd(viewF32(backend, dy), viewF32(backend, x), viewF32(backend, mean), viewF32(backend, rstd), viewF32(backend, gamma),
      R, C, viewF32(backend, dx), viewF32(backend, dg), viewF32(backend, db));
    return [dx, dg, db];
  };
  const gelu = ({ inputs: { x }, backend }: KernelArgs) => {
    const y = makeOutput(backend, x.shape, 'float32');
    addon.geluFwd(viewF32(backend, x), viewF32(backend, y));
    return y;
  };
  const geluGrad = ({ inputs: { dy, x }, backend }: KernelArgs) => {
    const dx = makeOutput(backend, x.shape, 'float32');
    addon.geluBwd(viewF32(backend, dy), viewF32(backend, x), viewF32(backend, dx));
    return dx;
  };
  const fns: Record<string, (a: KernelArgs) => unknown> = { [LAYER_NORM]: layerNorm, [LAYER_NORM_GRAD]: layerNormGrad, [GELU]: gelu, [GELU_GRAD]: geluGrad };
  for (const [kernelName, fn] of Object.entries(fns)) overrideKernel({ kernelName, backendName, kernelFunc: fn as unknown as tf.KernelFunc });
  installAdamW(backendName, addon);
  fusedOn = true;
}

export function uninstallFusedKernels(): void {
  fusedOn = false;
  restoreKernels('wasm', [LAYER_NORM, LAYER_NORM_GRAD, GELU, GELU_GRAD]);
  installAdamW('wasm', null);
}

/** Registers the AdamW kernel for a backend: native when an addon is given, else a JS loop. */
export function installAdamW(backendName: string, addon: NativeAddon | null): void {
  const kernelFunc = ({ inputs: { p, g, m, v }, backend, attrs }: KernelArgs) => {
    const po = makeOutput(backend, p.shape, 'float32');
    const mo = makeOutput(backend, p.shape, 'float32');
    const vo = makeOutput(backend, p.shape, 'float32');
    const a = attrs as { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number };
    const [P, G, Mm, V, PO, MO, VO] = [p, g, m, v, po, mo, vo].map((t) => viewF32(backend, t));
    if (addon) {
      addon.adamw(P, G, Mm, V, PO, MO, VO, a.lr, a.beta1, a.beta2, a.eps, a.weightDecay, a.step);
    } else {
      const bc1 = 1 - a.beta1 ** a.step, bc2sqrt = Math.sqrt(1 - a.beta2 ** a.step);
      const decay = 1 - a.lr * a.weightDecay, stepSize = a.lr / bc1, b1 = a.beta1, b2 = a.beta2;
      for (let i = 0; i < P.length; i++) {
        const gi = G[i];
        const mi = b1 * Mm[i] + (1 - b1) * gi;
        const vi = b2 * V[i] + (1 - b2) * gi * gi;
        PO[i] = P[i] * decay - (stepSize * mi) / (Math.sqrt(vi) / bc2sqrt + a.eps);
        MO[i] = mi;
        VO[i] = vi;
      }
    }
    return [po, mo, vo];
  };
  overrideKernel({ kernelName: ADAMW, backendName, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
}
