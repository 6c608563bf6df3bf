/**
 * Kernels that training needs but a backend lacks or gets wrong, so that the forward and
 * backward pass of every OpenCLIP model family runs on each backend the engine offers:
 * a scatter-add UnsortedSegmentSum (the gradient of the token-embedding gather; tfjs-cpu's is
 * O(segments·N), wasm 4.22 has none), a cpu-kernel bridge on wasm for the missing convolution
 * gradients (ModifiedResNet; the filter gradient as im2col + matmul) and Einsum, and a correct wasm _FusedMatMul (4.22 adds the bias
 * once per K-block, and to the wrong elements, on its transposed/batched path).
 */
import { tf } from '../tf.js';
import {
  type KernelBackend,
  type TensorInfo,
  dispose,
  isWasm,
  makeOutput,
  originalKernel,
  overrideKernel,
  sizeOf,
  view,
} from './backend-memory.js';
import { NATIVE_BACKEND } from './native-backend.js';
import { im2col } from './native-conv.js';

type KernelArgs = { inputs: Record<string, TensorInfo>; backend: KernelBackend; attrs: Record<string, unknown> };

/** Scatter-add of rows: out[segmentIds[i]] += x[i]; ids outside [0, numSegments) are dropped (TF semantics). */
function unsortedSegmentSum({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const numSegments = attrs.numSegments as number;
  const nIds = sizeOf(segmentIds.shape);
  const row = nIds === 0 ? 0 : sizeOf(x.shape) / nIds;
  const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
  const out = makeOutput(backend, outShape, x.dtype);
  const xs = view(backend, x);
  const ids = view(backend, segmentIds);
  const o = view(backend, out);
  o.fill(0);
  for (let i = 0; i < nIds; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * row, dst = s * row;
    for (let j = 0; j < row; j++) o[dst + j] += xs[src + j];
  }
  return out;
}

/** Runs the cpu backend's kernel on copies of wasm tensors (for kernels wasm 4.22 lacks). */
function bridgeToCpu(kernelName: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const wasm = backend as unknown as KernelBackend;
    const cpu = tf.engine().findBackend('cpu') as unknown as KernelBackend | null;
    const cpuKernel = tf.getKernel(kernelName, 'cpu');
    if (!cpu || !cpuKernel) throw new Error(`kernel '${kernelName}' is missing on wasm and the cpu backend cannot stand in`);
    const cpuInputs: Record<string, TensorInfo> = {};
    const made: TensorInfo[] = [];
    for (const [name, t] of Object.entries(inputs as Record<string, TensorInfo>)) {
      const copy = cpu.makeTensorInfo!(t.shape, t.dtype, view(wasm, t).slice());
      cpuInputs[name] = copy;
      made.push(copy);
    }
    try {
      const res = cpuKernel.kernelFunc({ inputs: cpuInputs as any, backend: cpu as any, attrs: attrs as any });
      const outs = (Array.isArray(res) ? res : [res]) as TensorInfo[];
      const wasmOuts = outs.map((t) => makeOutput(wasm, t.shape, t.dtype));
      wasmOuts.forEach((w, i) => view(wasm, w).set(cpu.readSync(outs[i].dataId)));
      dispose(cpu, ...outs);
      return Array.isArray(res) ? (wasmOuts as any) : (wasmOuts[0] as any);
    } finally {
      dispose(cpu, ...made);
    }
  };
}

let im2colLimit = 1 << 25;
/** Caps the im2col buffer (floats); tests lower it to exercise the chunked path. */
export function setIm2colLimit(floats: number): void {
  im2colLimit = floats;
}

/**
 * Conv2DBackpropFilter (NHWC) as im2col + one matrix product per chunk of images, through the
 * backend's current BatchMatMul (OpenBLAS on the openblas tier): dW[kh,kw,ci,co] = colsᵀ · dy.
 */
function conv2dBackpropFilterIm2col(fallback: tf.KernelFunc, backendName: string): tf.KernelFunc {
  return (args) => {
    const { inputs, backend: b, attrs } = args as unknown as KernelArgs;
    const { x, dy } = inputs;
    const backend = b;
    if (x.dtype !== 'float32' || attrs.dataFormat === 'NCHW') return fallback(args);
    const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], attrs.filterShape as [number, number, number, number],
      attrs.strides as [number, number], 1, attrs.pad as 'valid', attrs.dimRoundingMode as 'round' | undefined, false, 'channelsLast');
    const { batchSize: N, inHeight: H, inWidth: W, inChannels: CI, outHeight: OH, outWidth: OW, outChannels: CO } = info;
    const { filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw } = info;
    const g = { N, H, W, CI, OH, OW, CO, KH, KW, sh, sw, top: info.padInfo.top, left: info.padInfo.left };
    const P = KH * KW * CI, rowsPerImage = OH * OW;
    const chunk = Math.max(1, Math.min(N, Math.floor(im2colLimit / Math.max(1, rowsPerImage * P))));
    const mm = tf.getKernel('BatchMatMul', backendName)!.kernelFunc;
    let acc: Float32Array | null = null;
    let result: TensorInfo | null = null;
    for (let n0 = 0; n0 < N; n0 += chunk) {
      const nb = Math.min(chunk, N - n0), rows = nb * rowsPerImage;
      const cols = makeOutput(backend, [rows, P], 'float32');
      const dyPart = nb === N ? null : makeOutput(backend, [rows, CO], 'float32');
      const xv = view(backend, x), cv = view(backend, cols);
      if (dyPart) view(backend, dyPart).set(view(backend, dy).subarray(n0 * rowsPerImage * CO, (n0 + nb) * rowsPerImage * CO));
      im2col(xv as Float32Array, g, n0, nb, cv as Float32Array);
      const dy2 = dyPart ?? { ...dy, shape: [rows, CO] };
      const part = mm({ inputs: { a: cols, b: dy2 } as any, backend: backend as any, attrs: { transposeA: true, transposeB: false } }) as TensorInfo;
      dispose(backend, cols, dyPart);
      if (nb === N) {
        result = { ...part, shape: [KH, KW, CI, CO] };
      } else {
        const pv = view(backend, part);
        if (!acc) acc = new Float32Array(pv.length);
        for (let i = 0; i < acc.length; i++) acc[i] += pv[i];
        dispose(backend, part);
      }
    }
    if (result) return result as any;
    const out = makeOutput(backend, [KH, KW, CI, CO], 'float32');
    view(backend, out).set(acc!);
    return out as any;
  };
}

const ACTIVATION_KERNELS: Record<string, string> = {
  relu: 'Relu',
  relu6: 'Relu6',
  sigmoid: 'Sigmoid',
  elu: 'Elu',
  leakyrelu: 'LeakyRelu',
  prelu: 'Prelu',
};

/** Applies a fused-matmul activation with the backend's own kernels; disposes x when it made a new tensor. */
export function applyActivation(backend: KernelBackend, backendName: string, x: TensorInfo, activation: string | undefined,
  preluActivationWeights: TensorInfo | undefined, leakyreluAlpha: number | undefined): TensorInfo {
  if (!activation || activation === 'linear') return x;
  const name = ACTIVATION_KERNELS[activation];
  if (!name) throw new Error(`_FusedMatMul: unknown activation '${activation}'`);
  const k = originalKernel(name, backendName)!;
  const inputs: Record<string, TensorInfo> = { x };
  const attrs: Record<string, unknown> = {};
  if (activation === 'prelu') inputs.alpha = preluActivationWeights!;
  if (activation === 'leakyrelu') attrs.alpha = leakyreluAlpha ?? 0.2;
  const y = k.kernelFunc({ inputs: inputs as any, backend: backend as any, attrs: attrs as any }) as TensorInfo;
  dispose(backend, x);
  return y;
}

/** wasm _FusedMatMul that is correct on every path: the backend's kernel where it is right, else matmul + Add + activation. */
function wasmFusedMatMul(args: KernelArgs): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { a, b, bias, preluActivationWeights } = inputs;
  const orig = originalKernel('_FusedMatMul', 'wasm')!;
  const simple = !attrs.transposeA && !attrs.transposeB && sizeOf(a.shape.slice(0, -2)) === 1 && sizeOf(b.shape.slice(0, -2)) === 1;
  if (simple || !bias) return orig.kernelFunc(args as any) as TensorInfo;
  const mm = tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc({
    inputs: { a, b } as any, backend: backend as any, attrs: { transposeA: attrs.transposeA, transposeB: attrs.transposeB } as any,
  }) as TensorInfo;
  const added = originalKernel('Add', 'wasm')!.kernelFunc({ inputs: { a: mm, b: bias } as any, backend: backend as any, attrs: {} }) as TensorInfo;
  dispose(backend, mm);
  return applyActivation(backend, 'wasm', added, attrs.activation as string, preluActivationWeights, attrs.leakyreluAlpha as number);
}

/** Kernels wasm 4.22 lacks that a training step can need; served by the cpu backend's implementation. */
export const WASM_BRIDGED = ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'Einsum'] as const;

/** Installs the completeness kernels for one backend ('cpu', 'native' or 'wasm'); idempotent. */
export function installCompleteKernels(backendName: string): void {
  overrideKernel({ kernelName: 'UnsortedSegmentSum', backendName, kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc });
  if (backendName === NATIVE_BACKEND) {
    // the cpu kernel computes the filter gradient with scalar loops; im2col puts it on the tier's GEMM
    const own = originalKernel('Conv2DBackpropFilter', backendName)!.kernelFunc;
    overrideKernel({ kernelName: 'Conv2DBackpropFilter', backendName, kernelFunc: conv2dBackpropFilterIm2col(own, backendName) });
    return;
  }
  if (backendName !== 'wasm') return;
  for (const name of WASM_BRIDGED) {
    if (originalKernel(name, 'wasm')) continue; // a later tfjs has its own
    const bridged = bridgeToCpu(name);
    const kernelFunc = name === 'Conv2DBackpropFilter' ? conv2dBackpropFilterIm2col(bridged, 'wasm') : bridged;
    overrideKernel({ kernelName: name, backendName, kernelFunc });
  }
  overrideKernel({ kernelName: '_FusedMatMul', backendName, kernelFunc: wasmFusedMatMul as unknown as tf.KernelFunc });
}

export { isWasm };
