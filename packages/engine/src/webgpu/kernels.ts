/**
 * Fused WebGPU kernels. AdamW: the composed update is a dozen elementwise dispatches per
 * parameter (and as many intermediate buffers); here it is three WGSL dispatches — new m, new v,
 * new parameter — each reading p, g, m, v once, with torch.optim.AdamW's arithmetic (decoupled
 * decay p·(1 − lr·wd), bias-corrected moments), the same formula as the composed fallback in
 * adamw.ts.
 *
 * Matrix products: TF.js 4.22's split-K matmul program (taken for one batch, K ≥ 2000 and few
 * output tiles — e.g. the caption-logits product against the 49408-token vocabulary) gives
 * wrong results with a transposed B (measured: errors of the order of the values, on lavapipe),
 * and sums with float atomics in no fixed order. `BatchMatMul` and `_FusedMatMul` are wrapped so
 * that product runs the small-output-tile program instead (same tiling, no atomics).
 */
import { tf } from '../tf.js';
import { ADAMW } from '../accel/fused-kernels.js';

interface Program {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames: string[];
  workgroupSize: [number, number, number];
  uniforms: string;
  size: boolean;
  getUserCode(): string;
}

interface Backend {
  runWebGPUProgram(p: Program, inputs: tf.TensorInfo[], dtype: tf.DataType, uniforms: Array<{ type: string; data: number[] }>): tf.TensorInfo;
}

const WORKGROUP = 128;
const UNIFORMS = 'b1 : f32, b2 : f32, decay : f32, stepSize : f32, bc2Sqrt : f32, eps : f32,';

/** Which output: 0 = parameter, 1 = first moment, 2 = second moment. */
function adamwProgram(shape: number[], which: 0 | 1 | 2): Program {
  const size = tf.util.sizeFromShape(shape);
  // Every program reads all four inputs (WebGPU derives the bind group layout from what a
  // shader uses, and TF.js binds every input), then writes the output it is for.
  const out = ['p1', 'm1', 'v1'][which];
  const body = [
    '        let m1 = uniforms.b1 * getMByOutputIndex(index) + (1.0 - uniforms.b1) * g;',
    '        let v1 = uniforms.b2 * getVByOutputIndex(index) + (1.0 - uniforms.b2) * g * g;',
    '        let p1 = getPByOutputIndex(index) * uniforms.decay - uniforms.stepSize * m1 / (sqrt(v1) / uniforms.bc2Sqrt + uniforms.eps);',
    `        setOutputAtIndex(index, ${out});`,
  ].join('\n');
  return {
    outputShape: shape,
    shaderKey: `openclip_adamw_${which}`,
    dispatchLayout: { x: shape.map((_, i) => i) },
    dispatch: [Math.ceil(size / WORKGROUP), 1, 1],
    variableNames: ['P', 'G', 'M', 'V'],
    workgroupSize: [WORKGROUP, 1, 1],
    uniforms: UNIFORMS,
    size: true,
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let g = getGByOutputIndex(index);
${body}
        }
      }`,
  };
}

function adamwKernel({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo[] {
  const { p, g, m, v } = inputs as Record<'p' | 'g' | 'm' | 'v', tf.TensorInfo>;
  const a = attrs as unknown as { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number };
  const f32 = (x: number) => ({ type: 'float32', data: [x] });
  const uniforms = [
    f32(a.beta1),
    f32(a.beta2),
    f32(1 - a.lr * a.weightDecay),
    f32(a.lr / (1 - a.beta1 ** a.step)),
    f32(Math.sqrt(1 - a.beta2 ** a.step)),
    f32(a.eps),
  ];
  const b = backend as Backend;
  const ins = [p, g, m, v];
  // The new parameter first: it reads the old m and v, which the other two outputs do not overwrite.
  return ([0, 1, 2] as const).map((w) => b.runWebGPUProgram(adamwProgram(p.shape, w), ins, 'float32', uniforms));
}

// webgpu_util.MatMulProgramType
const SPLIT_K_AVOIDED_BY = 2; // MatMulSmallOutputSizeProgram

interface MatMulBackend {
  thresholdToIncreaseWorkgroups: number;
}

/** True when TF.js 4.22 would pick its split-K program for this product (BatchMatMul_impl's rule). */
export function wouldSplitK(a: readonly number[], b: readonly number[], transposeA: boolean, transposeB: boolean, threshold: number): boolean {
  const ra = a.length, rb = b.length;
  const outerA = transposeA ? a[ra - 1] : a[ra - 2];
  const outerB = transposeB ? b[rb - 2] : b[rb - 1];
  const innerB = transposeB ? b[rb - 1] : b[rb - 2];
  const batch = Math.max(tf.util.sizeFromShape(a.slice(0, -2)), tf.util.sizeFromShape(b.slice(0, -2)));
  const override = tf.env().getNumber('WEBGPU_THRESHOLD_TO_INCREASE_WORKGROUPS_FOR_MATMUL');
  const limit = override > 0 ? override : threshold;
  const tiles = batch * Math.ceil(outerA / 32) * Math.ceil(outerB / 32);
  const few = tiles <= limit || (outerA <= 8 && tiles <= limit * 2);
  return few && batch * outerA * outerB > 128 && batch === 1 && innerB >= 2000;
}

function avoidSplitK(kernelName: string): void {
  const original = tf.getKernel(kernelName, 'webgpu');
  if (!original) throw new Error(`webgpu: TF.js registered no ${kernelName} kernel`);
  const run = original.kernelFunc;
  tf.unregisterKernel(kernelName, 'webgpu');
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      const { a, b } = args.inputs as Record<'a' | 'b', tf.TensorInfo>;
      const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
      const env = tf.env();
      if (env.getNumber('WEBGPU_MATMUL_PROGRAM_TYPE') >= 0) return run(args);
      if (!wouldSplitK(a.shape, b.shape, transposeA, transposeB, (args.backend as unknown as MatMulBackend).thresholdToIncreaseWorkgroups)) return run(args);
      env.set('WEBGPU_MATMUL_PROGRAM_TYPE', SPLIT_K_AVOIDED_BY);
      try {
        return run(args);
      } finally {
        env.set('WEBGPU_MATMUL_PROGRAM_TYPE', -1);
      }
    },
  });
}

let installed = false;

/** Registers the fused kernels on the `webgpu` backend (once). */
export function installWebGpuKernels(): void {
  if (installed) return;
  installed = true;
  avoidSplitK('BatchMatMul');
  avoidSplitK('_FusedMatMul');
  if (!tf.getKernel(ADAMW, 'webgpu')) tf.registerKernel({ kernelName: ADAMW, backendName: 'webgpu', kernelFunc: adamwKernel as unknown as tf.KernelFunc });
}
