/**
 * Elementwise unary kernels of the `native` backend: plain loops writing into pooled arrays.
 * tfjs-cpu's own versions allocate a fresh array per call (a page fault per 4 KB, then garbage
 * for the collector): on ResNet training, Relu and its gradient's Step alone took 4.6 s of a
 * 17 s step. Same arithmetic as tfjs-cpu, NaN passing through as there. Relu and Step use the
 * compiled addon's vectorised loops where it has them, and so does ReLU's gradient: the engine
 * registers Relu's gradient as one OpenclipReluGrad kernel (dy·step(x) in one pass) where the
 * backend has it, else as TensorFlow.js composes it.
 */
import { tf } from '../tf.js';
import type { NativeAddon } from './native.js';
import { type KernelBackend, type TensorInfo, makeOutput, originalKernel, overrideKernel, restoreKernels, viewF32 } from './backend-memory.js';

type KernelArgs = { inputs: Record<string, TensorInfo>; backend: KernelBackend; attrs: Record<string, unknown> };
type Loop = (x: Float32Array, y: Float32Array, attrs: Record<string, unknown>) => void;

const LOOPS: Record<string, Loop> = {
  // branch-free on the sign (a data-dependent branch mispredicts half the time on activations:
  // 43 ms against 9 ms for 6.4 M elements); the rare cases branch. (+0 turns -0 into 0.)
  Relu: (x, y) => {
    for (let i = 0; i < x.length; i++) {
      const a = x[i];
      y[i] = a === -Infinity ? 0 : a * +(a > 0) + 0;
    }
  },
  Step: (x, y, attrs) => {
    const alpha = (attrs.alpha as number | undefined) ?? 0, rise = 1 - alpha;
    for (let i = 0; i < x.length; i++) {
      const a = x[i];
      y[i] = a !== a ? NaN : alpha + rise * +(a > 0);
    }
  },
  Sigmoid: (x, y) => {
    for (let i = 0; i < x.length; i++) y[i] = 1 / (1 + Math.exp(-x[i]));
  },
  Tanh: (x, y) => {
    for (let i = 0; i < x.length; i++) y[i] = Math.tanh(x[i]);
  },
  Neg: (x, y) => {
    for (let i = 0; i < x.length; i++) y[i] = -x[i];
  },
  Square: (x, y) => {
    for (let i = 0; i < x.length; i++) y[i] = x[i] * x[i];
  },
  Sqrt: (x, y) => {
    for (let i = 0; i < x.length; i++) y[i] = Math.sqrt(x[i]);
  },
  Rsqrt: (x, y) => {
    for (let i = 0; i < x.length; i++) y[i] = 1 / Math.sqrt(x[i]);
  },
  Abs: (x, y) => {
    for (let i = 0; i < x.length; i++) y[i] = Math.abs(x[i]);
  },
};

export const UNARY_KERNEL_NAMES = Object.keys(LOOPS);
export const RELU_GRAD = 'OpenclipReluGrad';

let gradientRegistered = false;

/** Relu's gradient: the fused kernel where the current backend has it, else TensorFlow.js's composition. */
function registerReluGradient(): void {
  if (gradientRegistered) return;
  gradientRegistered = true;
  tf.registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved;
      const d = Array.isArray(dy) ? dy[0] : dy;
      return {
        x: () => (x.dtype === 'float32' && d.dtype === 'float32' && tf.getKernel(RELU_GRAD, tf.getBackend())
          ? (tf.engine().runKernel(RELU_GRAD, { dy: d, x }, {}) as tf.Tensor)
          : tf.mul(d, tf.cast(tf.step(x), 'float32'))),
      };
    },
  });
}

export function installUnaryKernels(backendName: string, addon: NativeAddon): void {
  const loops: Record<string, Loop> = { ...LOOPS };
  if (addon.relu) loops.Relu = (x, y) => addon.relu!(x, y);
  if (addon.step) loops.Step = (x, y, attrs) => addon.step!(x, y, (attrs.alpha as number | undefined) ?? 0);
  if (addon.reluGrad) {
    registerReluGradient();
    const reluGrad = ({ inputs: { dy, x }, backend }: KernelArgs) => {
      const dx = makeOutput(backend, x.shape, 'float32', true);
      addon.reluGrad!(viewF32(backend, dy), viewF32(backend, x), viewF32(backend, dx));
      return dx;
    };
    overrideKernel({ kernelName: RELU_GRAD, backendName, kernelFunc: reluGrad as unknown as tf.KernelFunc });
  }
  for (const [name, loop] of Object.entries(loops)) {
    const kernelFunc = (args: KernelArgs) => {
      const { inputs: { x }, backend, attrs } = args;
      if (x.dtype !== 'float32') return originalKernel(name, backendName)!.kernelFunc(args as any);
      const out = makeOutput(backend, x.shape, 'float32', true);
      loop(viewF32(backend, x), viewF32(backend, out), attrs);
      return out;
    };
    overrideKernel({ kernelName: name, backendName, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
}

export function uninstallUnaryKernels(backendName: string): void {
  restoreKernels(backendName, [...UNARY_KERNEL_NAMES, RELU_GRAD]);
}
