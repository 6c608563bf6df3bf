/**
 * Grouped 2-D convolutions (PyTorch's `groups`, 1 < groups, neither dense nor depthwise) as one
 * kernel with its two gradients, where TF.js has no grouped op: NHWC input [N, H, W, CI], filter
 * [KH, KW, CI/G, CO], output channel o reads the input channels of group ⌊o / (CO/G)⌋. On a tier
 * whose addon has the convolution kernels (openblas, on `native` and `wasm`) the forward pass and
 * both gradients run there, one GEMM per group and block of patches; elsewhere `ops.groupedConv2d`
 * composes it from one convolution per group (the reference semantics).
 */
import { tf } from '../tf.js';
import { type KernelBackend, type TensorInfo, makeOutput, overrideKernel, restoreKernels, viewF32 } from './backend-memory.js';
import type { NativeAddon } from './native.js';

type KernelArgs = { inputs: Record<string, TensorInfo>; backend: KernelBackend; attrs: Record<string, unknown> };
type NativeConv = Required<Pick<NativeAddon, 'conv2dForward' | 'conv2dBackpropInput' | 'conv2dBackpropFilter'>>;

export const GROUPED_CONV = 'OpenclipGroupedConv2d';
export const GROUPED_CONV_INPUT_GRAD = 'OpenclipGroupedConv2dBackpropInput';
export const GROUPED_CONV_FILTER_GRAD = 'OpenclipGroupedConv2dBackpropFilter';

/** Padding as tf.conv2d takes it (explicit pads are [[0, 0], [top, bottom], [left, right], [0, 0]]). */
export type ConvPad = 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];

export interface GroupedConvAttrs {
  strides: [number, number];
  pad: ConvPad;
  groups: number;
}

const active = new Set<string>();
let gradientRegistered = false;

/** Whether the grouped-convolution kernels run on the current backend. */
export function groupedConvActive(): boolean {
  return active.has(tf.getBackend());
}

/** The addon's geometry [N, H, W, CI, OH, OW, CO, KH, KW, sh, sw, top, left, groups]. */
export function groupedGeometry(xShape: number[], filterShape: number[], attrs: GroupedConvAttrs): Int32Array {
  const info = tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number], filterShape as [number, number, number, number],
    attrs.strides, 1, attrs.pad as 'valid', undefined, false, 'channelsLast');
  return Int32Array.from([info.batchSize, info.inHeight, info.inWidth, xShape[3], info.outHeight, info.outWidth, filterShape[3],
    info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left, attrs.groups]);
}

function registerGradient(): void {
  if (gradientRegistered) return;
  gradientRegistered = true;
  tf.registerGradient({
    kernelName: GROUPED_CONV,
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved;
      const d = Array.isArray(dy) ? dy[0] : dy;
      const a = attrs as unknown as GroupedConvAttrs;
      const base = { strides: a.strides, pad: a.pad, groups: a.groups };
      return {
        x: () => tf.engine().runKernel(GROUPED_CONV_INPUT_GRAD, { dy: d, filter }, { ...base, inputShape: x.shape } as never) as tf.Tensor,
        filter: () => tf.engine().runKernel(GROUPED_CONV_FILTER_GRAD, { x, dy: d }, { ...base, filterShape: filter.shape } as never) as tf.Tensor,
      };
    },
  });
}

function kernels(conv: NativeConv): [tf.KernelFunc, tf.KernelFunc, tf.KernelFunc] {
  const forward = ({ inputs: { x, filter }, backend, attrs }: KernelArgs) => {
    const g = groupedGeometry(x.shape, filter.shape, attrs as unknown as GroupedConvAttrs);
    const y = makeOutput(backend, [g[0], g[4], g[5], g[6]], 'float32', true);
    conv.conv2dForward(viewF32(backend, x), viewF32(backend, filter), g, viewF32(backend, y));
    return y;
  };
  const inputGrad = ({ inputs: { dy, filter }, backend, attrs }: KernelArgs) => {
    const inShape = attrs.inputShape as number[];
    const g = groupedGeometry(inShape, filter.shape, attrs as unknown as GroupedConvAttrs);
    const dx = makeOutput(backend, inShape, 'float32', true);
    conv.conv2dBackpropInput(viewF32(backend, dy), viewF32(backend, filter), g, viewF32(backend, dx));
    return dx;
  };
  const filterGrad = ({ inputs: { x, dy }, backend, attrs }: KernelArgs) => {
    const filterShape = attrs.filterShape as number[];
    const g = groupedGeometry(x.shape, filterShape, attrs as unknown as GroupedConvAttrs);
    const df = makeOutput(backend, filterShape, 'float32', true);
    conv.conv2dBackpropFilter(viewF32(backend, x), viewF32(backend, dy), g, viewF32(backend, df));
    return df;
  };
  return [forward as unknown as tf.KernelFunc, inputGrad as unknown as tf.KernelFunc, filterGrad as unknown as tf.KernelFunc];
}

/** The grouped kernels on `backendName` when the addon has its convolution kernels (openblas tier); nothing otherwise. */
export function installGroupedConvKernels(backendName: string, addon: NativeAddon): void {
  if (!addon.conv2dForward || !addon.conv2dBackpropInput || !addon.conv2dBackpropFilter) return;
  registerGradient();
  const [fwd, dx, df] = kernels(addon as NativeConv);
  overrideKernel({ kernelName: GROUPED_CONV, backendName, kernelFunc: fwd });
  overrideKernel({ kernelName: GROUPED_CONV_INPUT_GRAD, backendName, kernelFunc: dx });
  overrideKernel({ kernelName: GROUPED_CONV_FILTER_GRAD, backendName, kernelFunc: df });
  active.add(backendName);
}

export function uninstallGroupedConvKernels(backendName: string): void {
  active.delete(backendName);
  restoreKernels(backendName, [GROUPED_CONV, GROUPED_CONV_INPUT_GRAD, GROUPED_CONV_FILTER_GRAD]);
}
