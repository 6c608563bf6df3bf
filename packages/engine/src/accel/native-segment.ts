/**
 * UnsortedSegmentSum on the `native` backend: one pass that adds each row of x into its
 * segment's row. This is the token-embedding gradient (the gradient of a row gather), a dense
 * [vocab, width] array; tfjs-cpu builds it with a comparison and a reduction per segment.
 * Rows whose segment id is negative or not below numSegments are dropped, as in TensorFlow.
 */
import { tf } from '../tf.js';
import { type KernelBackend, type TensorInfo, makeOutput, originalKernel, overrideKernel, restoreKernels, sizeOf, view, viewF32 } from './backend-memory.js';

type KernelArgs = { inputs: Record<string, TensorInfo>; backend: KernelBackend; attrs: Record<string, unknown> };

export function installSegmentKernels(backendName: string): void {
  const segmentSum = (args: KernelArgs) => {
    const { inputs: { x, segmentIds }, backend, attrs } = args;
    const numSegments = attrs.numSegments as number;
    const lead = segmentIds.shape.length;
    if (x.dtype !== 'float32' || segmentIds.dtype !== 'int32' || !segmentIds.shape.every((d, i) => d === x.shape[i])) {
      return originalKernel('UnsortedSegmentSum', backendName)!.kernelFunc(args as any);
    }
    const rows = sizeOf(segmentIds.shape), inner = sizeOf(x.shape.slice(lead));
    const out = makeOutput(backend, [numSegments, ...x.shape.slice(lead)], 'float32');
    const X = viewF32(backend, x), Y = viewF32(backend, out), ids = view(backend, segmentIds);
    for (let r = 0; r < rows; r++) {
      const s = ids[r];
      if (s < 0 || s >= numSegments) continue;
      const src = r * inner, dst = s * inner;
      for (let j = 0; j < inner; j++) Y[dst + j] += X[src + j];
    }
    return out;
  };
  overrideKernel({ kernelName: 'UnsortedSegmentSum', backendName, kernelFunc: segmentSum as unknown as tf.KernelFunc });
}

export function uninstallSegmentKernels(backendName: string): void {
  restoreKernels(backendName, ['UnsortedSegmentSum']);
}
