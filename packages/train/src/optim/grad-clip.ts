/**
 * `torch.nn.utils.clip_grad_norm_` as OpenCLIP calls it for `--grad-clip-norm`: the norm of the
 * per-parameter gradient norms, and the coefficient `min(1, max_norm / (total_norm + 1e-6))`
 * every gradient is multiplied by.
 */
import { tf } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';

/** Total gradient norm over all parameters (L2 by default; Infinity for the max-abs norm). */
export function gradNorm(grads: Iterable<Tensor>, normType: number = 2): number {
  const list = [...grads];
  if (list.length === 0) return 0;
  if (!(normType === Infinity || (Number.isFinite(normType) && normType > 0))) throw new Error(`gradNorm: normType must be > 0 or Infinity, got ${normType}`);
  const total = tf.tidy(() => {
    const norms = tf.stack(list.map((g) => tf.norm(g, normType === Infinity ? Infinity : normType)));
    return tf.norm(norms, normType === Infinity ? Infinity : normType);
  });
  const v = total.dataSync()[0];
  total.dispose();
  return v;
}

/** torch's clip coefficient, clamped to at most 1. */
export function clipCoefficient(totalNorm: number, maxNorm: number): number {
  return Math.min(1, maxNorm / (totalNorm + 1e-6));
}

/**
 * The total norm and the scale to apply (pass it as AdamW.step's `gradScale`, or to
 * scaleGradients). Gradients are not modified.
 */
export function clipGradNorm(grads: Map<string, Tensor>, maxNorm: number, normType: number = 2): { totalNorm: number; scale: number } {
  if (typeof maxNorm !== 'number' || !(maxNorm > 0)) throw new Error(`--grad-clip-norm must be a positive number, got ${maxNorm}`);
  const totalNorm = gradNorm(grads.values(), normType);
  return { totalNorm, scale: clipCoefficient(totalNorm, maxNorm) };
}

/** New gradient tensors multiplied by `scale` (the inputs are left as they are). */
export function scaleGradients(grads: Map<string, Tensor>, scale: number): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k, g] of grads) out.set(k, tf.mul(g, scale));
  return out;
}
