/**
 * Fused attention core for the accelerated tiers: softmax(scale · Q Kᵀ + mask) V as one kernel
 * whose forward keeps the probabilities P, and one backward kernel giving dQ, dK and dV from P
 * (dV = Pᵀ dO; dS = P ⊙ (dO Vᵀ − rowsum(dO Vᵀ ⊙ P)); dQ = scale · dS K; dK = scale · dSᵀ Q).
 * The composite path spends a scaling pass, a mask pass, a softmax and five elementwise kernels
 * in its gradient on the [batch, heads, Lq, Lk] scores; here each direction makes one pass over
 * them besides the matrix products. The compiled addon (openblas tier) runs both directions
 * itself, one [Lq, Lk] plane at a time; otherwise (ort tier) the products go through the tier's
 * sgemm and the softmax passes run here. The mask's gradient (a trainable bias such as relative positions) is composed from
 * ordinary ops and only computed when the backward pass asks for it.
 */
import { tf } from '../tf.js';
import type { NativeAddon } from './native.js';
import { type KernelBackend, type TensorInfo, dispose, makeOutput, overrideKernel, restoreKernels, sizeOf, viewF32 } from './backend-memory.js';

type KernelArgs = { inputs: Record<string, TensorInfo>; backend: KernelBackend; attrs: Record<string, unknown> };

export const ATTENTION = 'OpenclipAttention';
export const ATTENTION_GRAD = 'OpenclipAttentionGrad';

/** Shapes the fused kernel takes: q [...b, Lq, D], k [...b, Lk, D], v [...b, Lk, Dv] with equal batch dims. */
export function fusedAttentionFits(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor | null | undefined): boolean {
  const r = q.rank;
  if (r < 3 || k.rank !== r || v.rank !== r || q.dtype !== 'float32' || k.dtype !== 'float32' || v.dtype !== 'float32') return false;
  for (let i = 0; i < r - 2; i++) if (q.shape[i] !== k.shape[i] || q.shape[i] !== v.shape[i]) return false;
  if (q.shape[r - 1] !== k.shape[r - 1] || k.shape[r - 2] !== v.shape[r - 2]) return false;
  if (!mask) return true;
  if (mask.dtype !== 'float32' || mask.rank > r) return false;
  const full = [...q.shape.slice(0, -1), k.shape[r - 2]];
  for (let i = 1; i <= mask.rank; i++) {
    const m = mask.shape[mask.rank - i], f = full[r - i];
    if (m !== 1 && m !== f) return false;
  }
  return true;
}

interface Dims { batch: number; Lq: number; Lk: number; D: number; Dv: number }

function dims(q: TensorInfo, k: TensorInfo, v: TensorInfo): Dims {
  const r = q.shape.length;
  return { batch: sizeOf(q.shape.slice(0, -2)), Lq: q.shape[r - 2], Lk: k.shape[r - 2], D: q.shape[r - 1], Dv: v.shape[r - 1] };
}

/** Offsets of the mask's [Lq, Lk] plane for each flattened batch index, and its row and column strides. */
function maskLayout(mask: TensorInfo, batchShape: number[], Lq: number, Lk: number): { base: Int32Array; rowStride: number; colStride: number } {
  const full = [...batchShape, Lq, Lk];
  const r = full.length;
  const shape = [...new Array<number>(r - mask.shape.length).fill(1), ...mask.shape];
  const strides = new Array<number>(r).fill(0);
  let s = 1;
  for (let i = r - 1; i >= 0; i--) {
    strides[i] = shape[i] === 1 ? 0 : s;
    s *= shape[i];
  }
  const nb = sizeOf(batchShape);
  const base = new Int32Array(nb);
  for (let b = 0; b < nb; b++) {
    let rem = b, off = 0;
    for (let i = r - 3; i >= 0; i--) {
      off += (rem % full[i]) * strides[i];
      rem = Math.floor(rem / full[i]);
    }
    base[b] = off;
  }
  return { base, rowStride: strides[r - 2], colStride: strides[r - 1] };
}

let gradientRegistered = false;

function registerGradient(): void {
  if (gradientRegistered) return;
  gradientRegistered = true;
  tf.registerGradient({
    kernelName: ATTENTION,
    inputsToSave: ['q', 'k', 'v'],
    outputsToSave: [false, true],
    gradFunc: (dys, saved, attrs) => {
      const dy = Array.isArray(dys) ? dys[0] : dys;
      const [q, k, v, p] = saved;
      // the mask's gradient needs its shape only (dS does not depend on the mask's values)
      const { scale, maskShape } = attrs as { scale: number; maskShape: number[] | null };
      const [dq, dk, dv] = tf.engine().runKernel(ATTENTION_GRAD, { dy, q, k, v, p }, { scale }) as tf.Tensor[];
      const grads: Record<string, () => tf.Tensor> = { q: () => dq, k: () => dk, v: () => dv };
      if (maskShape) {
        grads.mask = () => {
          const dp = tf.matMul(dy, v, false, true);
          const ds = tf.mul(p, tf.sub(dp, tf.sum(tf.mul(dp, p), -1, true)));
          const axes = tf.broadcast_util.getReductionAxes(maskShape, ds.shape);
          return tf.reshape(axes.length ? tf.sum(ds, axes) : ds, maskShape);
        };
      }
      return grads;
    },
  });
}

export function installFusedAttention(addon: NativeAddon, backendName: string): void {
  registerGradient();

  const forward = ({ inputs: { q, k, v, mask }, backend, attrs }: KernelArgs) => {
    const { batch, Lq, Lk, D, Dv } = dims(q, k, v);
    const scale = attrs.scale as number;
    const o = makeOutput(backend, [...q.shape.slice(0, -1), Dv], 'float32', true);
    const p = makeOutput(backend, [...q.shape.slice(0, -1), Lk], 'float32', true);
    const P = viewF32(backend, p);
    const layout = mask ? maskLayout(mask, q.shape.slice(0, -2), Lq, Lk) : null;
    if (addon.attentionFwd) {
      addon.attentionFwd(viewF32(backend, q), viewF32(backend, k), viewF32(backend, v), mask ? viewF32(backend, mask) : null, layout?.base ?? null,
        layout?.rowStride ?? 0, layout?.colStride ?? 0, batch, Lq, Lk, D, Dv, scale, viewF32(backend, o), P);
      return [o, p];
    }
    addon.sgemm(false, true, batch, Lq, Lk, D, viewF32(backend, q), Lq * D, viewF32(backend, k), Lk * D, P, Lq * Lk, null);
    const M = mask ? viewF32(backend, mask) : null;
    for (let b = 0; b < batch; b++) {
      for (let i = 0; i < Lq; i++) {
        const o0 = (b * Lq + i) * Lk;
        let mx = -Infinity;
        if (M && layout) {
          const m0 = layout.base[b] + i * layout.rowStride, cs = layout.colStride;
          for (let j = 0; j < Lk; j++) {
            const x = P[o0 + j] * scale + M[m0 + j * cs];
            P[o0 + j] = x;
            if (x > mx) mx = x;
          }
        } else {
          for (let j = 0; j < Lk; j++) {
            const x = P[o0 + j] * scale;
            P[o0 + j] = x;
            if (x > mx) mx = x;
          }
        }
        // a row masked out everywhere gives NaN, as softmax over all -inf does in the composite path
        for (let j = 0; j < Lk; j++) P[o0 + j] -= mx;
      }
    }
    addon.exp(P, P);
    for (let r = 0, rows = batch * Lq; r < rows; r++) {
      const o0 = r * Lk;
      let s = 0;
      for (let j = 0; j < Lk; j++) s += P[o0 + j];
      const inv = 1 / s;
      for (let j = 0; j < Lk; j++) P[o0 + j] *= inv;
    }
    addon.sgemm(false, false, batch, Lq, Dv, Lk, P, Lq * Lk, viewF32(backend, v), Lk * Dv, viewF32(backend, o), Lq * Dv, null);
    return [o, p];
  };

  const backward = ({ inputs: { dy, q, k, v, p }, backend, attrs }: KernelArgs) => {
    const { batch, Lq, Lk, D, Dv } = dims(q, k, v);
    const scale = attrs.scale as number;
    // every output first: on the wasm backend an allocation can move the heap under earlier views
    const dq = makeOutput(backend, q.shape, 'float32', true);
    const dk = makeOutput(backend, k.shape, 'float32', true);
    const dv = makeOutput(backend, v.shape, 'float32', true);
    if (addon.attentionBwd) {
      addon.attentionBwd(viewF32(backend, dy), viewF32(backend, q), viewF32(backend, k), viewF32(backend, v), viewF32(backend, p), batch, Lq, Lk, D, Dv,
        scale, viewF32(backend, dq), viewF32(backend, dk), viewF32(backend, dv));
      return [dq, dk, dv];
    }
    const ds = makeOutput(backend, p.shape, 'float32', true);
    const dO = viewF32(backend, dy), P = viewF32(backend, p), Q = viewF32(backend, q), K = viewF32(backend, k), S = viewF32(backend, ds);
    addon.sgemm(true, false, batch, Lk, Dv, Lq, P, Lq * Lk, dO, Lq * Dv, viewF32(backend, dv), Lk * Dv, null);
    addon.sgemm(false, true, batch, Lq, Lk, Dv, dO, Lq * Dv, viewF32(backend, v), Lk * Dv, S, Lq * Lk, null);
    for (let r = 0, rows = batch * Lq; r < rows; r++) {
      const o0 = r * Lk;
      let dot = 0;
      for (let j = 0; j < Lk; j++) dot += S[o0 + j] * P[o0 + j];
      for (let j = 0; j < Lk; j++) S[o0 + j] = P[o0 + j] * (S[o0 + j] - dot) * scale;
    }
    addon.sgemm(false, false, batch, Lq, D, Lk, S, Lq * Lk, K, Lk * D, viewF32(backend, dq), Lq * D, null);
    addon.sgemm(true, false, batch, Lk, D, Lq, S, Lq * Lk, Q, Lq * D, viewF32(backend, dk), Lk * D, null);
    dispose(backend, ds);
    return [dq, dk, dv];
  };

  overrideKernel({ kernelName: ATTENTION, backendName, kernelFunc: forward as unknown as tf.KernelFunc });
  overrideKernel({ kernelName: ATTENTION_GRAD, backendName, kernelFunc: backward as unknown as tf.KernelFunc });
}

export function uninstallFusedAttention(backendName: string): void {
  restoreKernels(backendName, [ATTENTION, ATTENTION_GRAD]);
}
