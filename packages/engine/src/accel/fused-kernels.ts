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

const fusedOn = new Set<string>();

/** Whether ops should take the fused path: the current backend has the fused kernels. */
export function fusedOpsActive(): boolean {
  return fusedOn.has(tf.getBackend());
}

export function installFusedKernels(addon: NativeAddon, backendName: string): void {
  registerGradients();
  const layerNorm = ({ inputs: { x, gamma, beta }, backend, attrs }: KernelArgs) => {
    const C = x.shape[x.shape.length - 1];
    const R = sizeOf(x.shape) / C;
    const statShape = x.shape.slice(0, -1);
    const y = makeOutput(backend, x.shape, 'float32', true);
    const mean = makeOutput(backend, statShape, 'float32', true);
    const rstd = makeOutput(backend, statShape, 'float32', true);
    addon.layerNormFwd(viewF32(backend, x), viewF32(backend, gamma), viewF32(backend, beta), R, C, attrs.eps as number,
      viewF32(backend, y), viewF32(backend, mean), viewF32(backend, rstd));
    return [y, mean, rstd];
  };
  const layerNormGrad = ({ inputs: { dy, x, mean, rstd, gamma }, backend }: KernelArgs) => {
    const C = x.shape[x.shape.length - 1];
    const R = sizeOf(x.shape) / C;
    const dx = makeOutput(backend, x.shape, 'float32', true);
    const dg = makeOutput(backend, [C], 'float32');
    const db = makeOutput(backend, [C], 'float32');
    addon.layerNormBwd(viewF32(backend, dy), viewF32(backend, x), viewF32(backend, mean), viewF32(backend, rstd), viewF32(backend, gamma),
      R, C, viewF32(backend, dx), viewF32(backend, dg), viewF32(backend, db));
    return [dx, dg, db];
  };
  const gelu = ({ inputs: { x }, backend }: KernelArgs) => {
    const y = makeOutput(backend, x.shape, 'float32', true);
    addon.geluFwd(viewF32(backend, x), viewF32(backend, y));
    return y;
  };
  const geluGrad = ({ inputs: { dy, x }, backend }: KernelArgs) => {
    const dx = makeOutput(backend, x.shape, 'float32', true);
    addon.geluBwd(viewF32(backend, dy), viewF32(backend, x), viewF32(backend, dx));
    return dx;
  };
  const fns: Record<string, (a: KernelArgs) => unknown> = { [LAYER_NORM]: layerNorm, [LAYER_NORM_GRAD]: layerNormGrad, [GELU]: gelu, [GELU_GRAD]: geluGrad };
  for (const [kernelName, fn] of Object.entries(fns)) overrideKernel({ kernelName, backendName, kernelFunc: fn as unknown as tf.KernelFunc });
  installAdamW(backendName, addon);
  fusedOn.add(backendName);
}

export function uninstallFusedKernels(backendName: string): void {
  fusedOn.delete(backendName);
  restoreKernels(backendName, [LAYER_NORM, LAYER_NORM_GRAD, GELU, GELU_GRAD]);
  installAdamW(backendName, null);
}

type AdamWLoop = NativeAddon['adamw'];

/** The AdamW arithmetic as a JS loop (outputs may alias the inputs: each element is read before it is written). */
export const adamwJs: AdamWLoop = (P, G, Mm, V, PO, MO, VO, lr, beta1, beta2, eps, weightDecay, step) => {
  const bc1 = 1 - beta1 ** step, bc2sqrt = Math.sqrt(1 - beta2 ** step);
  const decay = 1 - lr * weightDecay, stepSize = lr / bc1;
  for (let i = 0; i < P.length; i++) {
    const gi = G[i];
    const mi = beta1 * Mm[i] + (1 - beta1) * gi;
    const vi = beta2 * V[i] + (1 - beta2) * gi * gi;
    PO[i] = P[i] * decay - (stepSize * mi) / (Math.sqrt(vi) / bc2sqrt + eps);
    MO[i] = mi;
    VO[i] = vi;
  }
};

/** Per backend whose tensors are plain typed arrays: the loop that updates a parameter in place. */
const inPlaceAdamW = new Map<string, AdamWLoop>();

/** Lets adamwStep update parameters in their own memory on `backendName` (null: never). */
export function setInPlaceAdamW(backendName: string, loop: AdamWLoop | null): void {
  if (loop) inPlaceAdamW.set(backendName, loop);
  else inPlaceAdamW.delete(backendName);
}

type DataEntry = { values: Float32Array; refCount: number };

/**
 * AdamW written into the parameter's and moments' own arrays (no new tensors, as PyTorch's
 * optimizer does), when the backend allows it and nothing else shares their memory. Returns
 * false when the caller must take the kernel path.
 */
export function adamwInPlace(p: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor,
  a: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number }): boolean {
  const loop = inPlaceAdamW.get(tf.getBackend());
  if (!loop) return false;
  const backend = tf.backend() as unknown as { data: { get(id: object): DataEntry | undefined }; mutable?(id: object): boolean };
  const data = backend.data;
  const ids = [p.dataId, m.dataId, v.dataId];
  if (new Set([...ids, g.dataId]).size !== 4 || !backend.mutable) return false;
  if (!ids.every((id) => backend.mutable!(id))) return false;
  const entries = ids.map((id) => data.get(id));
  if (entries.some((e) => !(e?.values instanceof Float32Array))) return false;
  const ge = data.get(g.dataId);
  if (!ge || !(ge.values instanceof Float32Array)) return false;
  const [P, Mm, V] = entries.map((e) => e!.values);
  loop(P, ge.values, Mm, V, P, Mm, V, a.lr, a.beta1, a.beta2, a.eps, a.weightDecay, a.step);
  return true;
}

/** Registers the AdamW kernel for a backend: native when an addon is given, else a JS loop. */
export function installAdamW(backendName: string, addon: NativeAddon | null): void {
  const kernelFunc = ({ inputs: { p, g, m, v }, backend, attrs }: KernelArgs) => {
    const po = makeOutput(backend, p.shape, 'float32', true);
    const mo = makeOutput(backend, p.shape, 'float32', true);
    const vo = makeOutput(backend, p.shape, 'float32', true);
    const a = attrs as { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number };
    const [P, G, Mm, V, PO, MO, VO] = [p, g, m, v, po, mo, vo].map((t) => viewF32(backend, t));
    (addon ? addon.adamw : adamwJs)(P, G, Mm, V, PO, MO, VO, a.lr, a.beta1, a.beta2, a.eps, a.weightDecay, a.step);
    return [po, mo, vo];
  };
  overrideKernel({ kernelName: ADAMW, backendName, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
}
