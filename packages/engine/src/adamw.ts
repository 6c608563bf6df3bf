/**
 * One AdamW update of a parameter in a single fused kernel (torch.optim.AdamW arithmetic:
 * decoupled weight decay p ← p·(1 − lr·wd), then the bias-corrected Adam step), replacing the
 * dozen elementwise kernels per parameter of a composed update.
 */
import { TORCH_ADAMW_DEFAULTS } from '@openclip/common';
import { tf } from './tf.js';
import { ADAMW, adamwInPlace } from './accel/fused-kernels.js';

export interface AdamWOptions {
  lr: number;
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay; default 0.01 (PyTorch's). Pass 0 for parameters excluded from decay. */
  weightDecay?: number;
  /** 1-based step count (for bias correction). */
  step: number;
}

/**
 * Updates `param`, and the moment estimates `m` and `v` (variables shaped like the parameter,
 * zero-initialised), in place with one AdamW step. `grad` is not disposed.
 */
export function adamwStep(param: tf.Variable, grad: tf.Tensor, m: tf.Variable, v: tf.Variable, options: AdamWOptions): void {
  const attrs = {
    lr: options.lr,
    beta1: options.beta1 ?? TORCH_ADAMW_DEFAULTS.beta1,
    beta2: options.beta2 ?? TORCH_ADAMW_DEFAULTS.beta2,
    eps: options.eps ?? TORCH_ADAMW_DEFAULTS.eps,
    weightDecay: options.weightDecay ?? TORCH_ADAMW_DEFAULTS.weightDecay,
    step: options.step,
  };
  if (!Number.isInteger(attrs.step) || attrs.step < 1) throw new Error(`adamwStep: step must be a positive integer, got ${options.step}`);
  for (const [name, t] of [['grad', grad], ['m', m], ['v', v]] as const) {
    if (!tf.util.arraysEqual(t.shape, param.shape)) {
      throw new Error(`adamwStep: ${name} of '${param.name}' has shape [${t.shape}], expected [${param.shape}]`);
    }
  }
  if (param.dtype !== 'float32' || grad.dtype !== 'float32') throw new Error(`adamwStep: '${param.name}' must be float32`);
  if (adamwInPlace(param, grad, m, v, attrs)) return;
  let outs: tf.Tensor[];
  if (tf.getKernel(ADAMW, tf.getBackend())) {
    outs = tf.engine().runKernel(ADAMW, { p: param, g: grad, m, v }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
  } else {
    outs = tf.tidy(() => {
      const { lr, beta1: b1, beta2: b2, eps, weightDecay: wd, step } = attrs;
      const mNew = tf.add(tf.mul(m, b1), tf.mul(grad, 1 - b1));
      const vNew = tf.add(tf.mul(v, b2), tf.mul(tf.square(grad), 1 - b2));
      const denom = tf.add(tf.div(tf.sqrt(vNew), Math.sqrt(1 - b2 ** step)), eps);
      const pNew = tf.sub(tf.mul(param, 1 - lr * wd), tf.mul(tf.div(mNew, denom), lr / (1 - b1 ** step)));
      return [pNew, mNew, vNew];
    });
  }
  param.assign(outs[0]);
  m.assign(outs[1]);
  v.assign(outs[2]);
  tf.dispose(outs);
}
