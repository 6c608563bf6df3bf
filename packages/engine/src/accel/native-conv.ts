/**
 * Convolutions of the `native` backend as matrix products on the tier's GEMM (tfjs-cpu runs
 * them as scalar JavaScript loops): Conv2D forward as im2col × filter, Conv2DBackpropInput as
 * dy × filterᵀ scattered back (col2im), and Conv2DBackpropFilter as im2colᵀ × dy. NHWC, any
 * stride and padding, dilation 1; other cases fall back to the backend's own kernel.
 *
 * When the addon has the convolution kernels (the openblas tier) the whole product runs there,
 * gathering patches block by block into a reused buffer. Otherwise (the ort tier) the gather is
 * done here, images in chunks so the column buffer stays under IM2COL_LIMIT floats, and the
 * product goes through the backend's BatchMatMul; the filter gradient is then
 * complete-kernels.ts's im2col kernel.
 */
import { tf } from '../tf.js';
import { type KernelBackend, type TensorInfo, dispose, makeOutput, originalKernel, overrideKernel, restoreKernels, view, viewF32 } from './backend-memory.js';
import type { NativeAddon } from './native.js';

type KernelArgs = { inputs: Record<string, TensorInfo>; backend: KernelBackend; attrs: Record<string, unknown> };
const IM2COL_LIMIT = 1 << 24;

export interface Geometry {
  N: number; H: number; W: number; CI: number; OH: number; OW: number; CO: number;
  KH: number; KW: number; sh: number; sw: number; top: number; left: number;
}

function geometry(xShape: number[], filterShape: number[], attrs: Record<string, unknown>): Geometry | null {
  const dil = attrs.dilations as number | [number, number] | undefined;
  if (attrs.dataFormat === 'NCHW' || (dil !== undefined && dil !== 1 && !(Array.isArray(dil) && dil[0] === 1 && dil[1] === 1))) return null;
  const info = tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number], filterShape as [number, number, number, number],
    attrs.strides as [number, number], 1, attrs.pad as 'valid', attrs.dimRoundingMode as 'round' | undefined, false, 'channelsLast');
  return {
    N: info.batchSize, H: info.inHeight, W: info.inWidth, CI: info.inChannels, OH: info.outHeight, OW: info.outWidth, CO: info.outChannels,
    KH: info.filterHeight, KW: info.filterWidth, sh: info.strideHeight, sw: info.strideWidth, top: info.padInfo.top, left: info.padInfo.left,
  };
}

/** Rows [n0, n0+nb) images × OH·OW positions of the im2col matrix (each row KH·KW·CI, zero outside the image). */
export function im2col(x: Float32Array, g: Geometry, n0: number, nb: number, cols: Float32Array): void {
  const P = g.KH * g.KW * g.CI;
  let r = 0;
  for (let n = n0; n < n0 + nb; n++) {
    const xBase = n * g.H * g.W * g.CI;
    for (let oh = 0; oh < g.OH; oh++) for (let ow = 0; ow < g.OW; ow++, r++) {
      let c = r * P;
      for (let kh = 0; kh < g.KH; kh++) {
        const xr = oh * g.sh + kh - g.top;
        for (let kw = 0; kw < g.KW; kw++, c += g.CI) {
          const xc = ow * g.sw + kw - g.left;
          if (xr < 0 || xr >= g.H || xc < 0 || xc >= g.W) cols.fill(0, c, c + g.CI);
          else cols.set(x.subarray(xBase + (xr * g.W + xc) * g.CI, xBase + (xr * g.W + xc + 1) * g.CI), c);
        }
      }
    }
  }
}

/** Adds the columns back into their image positions (the adjoint of im2col). */
function col2imAdd(cols: Float32Array, g: Geometry, n0: number, nb: number, dx: Float32Array): void {
  const P = g.KH * g.KW * g.CI;
  let r = 0;
  for (let n = n0; n < n0 + nb; n++) {
    const xBase = n * g.H * g.W * g.CI;
    for (let oh = 0; oh < g.OH; oh++) for (let ow = 0; ow < g.OW; ow++, r++) {
      let c = r * P;
      for (let kh = 0; kh < g.KH; kh++) {
        const xr = oh * g.sh + kh - g.top;
        for (let kw = 0; kw < g.KW; kw++, c += g.CI) {
          const xc = ow * g.sw + kw - g.left;
          if (xr < 0 || xr >= g.H || xc < 0 || xc >= g.W) continue;
          const d = xBase + (xr * g.W + xc) * g.CI;
          for (let i = 0; i < g.CI; i++) dx[d + i] += cols[c + i];
        }
      }
    }
  }
}

/** A 1×1, stride-1, unpadded convolution needs no im2col: the NHWC input already is the matrix. */
function pointwise(g: Geometry): boolean {
  return g.KH === 1 && g.KW === 1 && g.sh === 1 && g.sw === 1 && g.top === 0 && g.left === 0;
}

function chunkOf(g: Geometry): number {
  return Math.max(1, Math.min(g.N, Math.floor(IM2COL_LIMIT / Math.max(1, g.OH * g.OW * g.KH * g.KW * g.CI))));
}

/** The geometry as the addon takes it: [N, H, W, CI, OH, OW, CO, KH, KW, sh, sw, top, left]. */
function packed(g: Geometry): Int32Array {
  return Int32Array.from([g.N, g.H, g.W, g.CI, g.OH, g.OW, g.CO, g.KH, g.KW, g.sh, g.sw, g.top, g.left]);
}

/** Conv2D, Conv2DBackpropInput and Conv2DBackpropFilter run whole in the addon. */
function installAddonConvKernels(backendName: string, conv: Required<NativeConv>): void {
  const conv2d = (args: KernelArgs) => {
    const { inputs: { x, filter }, backend, attrs } = args;
    const g = x.dtype === 'float32' && filter.dtype === 'float32' ? geometry(x.shape, filter.shape, attrs) : null;
    if (!g) return originalKernel('Conv2D', backendName)!.kernelFunc(args as any);
    const out = makeOutput(backend, [g.N, g.OH, g.OW, g.CO], 'float32', true);
    conv.conv2dForward(viewF32(backend, x), viewF32(backend, filter), packed(g), viewF32(backend, out));
    return out;
  };
  const backpropInput = (args: KernelArgs) => {
    const { inputs: { dy, filter }, backend, attrs } = args;
    const inShape = attrs.inputShape as number[];
    const g = dy.dtype === 'float32' && filter.dtype === 'float32' ? geometry(inShape, filter.shape, attrs) : null;
    if (!g) return originalKernel('Conv2DBackpropInput', backendName)!.kernelFunc(args as any);
    const dx = makeOutput(backend, inShape, 'float32', true);
    conv.conv2dBackpropInput(viewF32(backend, dy), viewF32(backend, filter), packed(g), viewF32(backend, dx));
    return dx;
  };
  const backpropFilter = (args: KernelArgs) => {
    const { inputs: { x, dy }, backend, attrs } = args;
    const filterShape = attrs.filterShape as number[];
    const g = x.dtype === 'float32' && dy.dtype === 'float32' ? geometry(x.shape, filterShape, attrs) : null;
    if (!g) return originalKernel('Conv2DBackpropFilter', backendName)!.kernelFunc(args as any);
    const dw = makeOutput(backend, filterShape, 'float32', true);
    conv.conv2dBackpropFilter(viewF32(backend, x), viewF32(backend, dy), packed(g), viewF32(backend, dw));
    return dw;
  };
  overrideKernel({ kernelName: 'Conv2D', backendName, kernelFunc: conv2d as unknown as tf.KernelFunc });
  overrideKernel({ kernelName: 'Conv2DBackpropInput', backendName, kernelFunc: backpropInput as unknown as tf.KernelFunc });
  overrideKernel({ kernelName: 'Conv2DBackpropFilter', backendName, kernelFunc: backpropFilter as unknown as tf.KernelFunc });
}

type NativeConv = Pick<NativeAddon, 'conv2dForward' | 'conv2dBackpropInput' | 'conv2dBackpropFilter'>;
type NativeDepthwise = Pick<NativeAddon, 'depthwiseConv2dForward' | 'depthwiseConv2dBackpropInput' | 'depthwiseConv2dBackpropFilter'>;

/** The addon's depthwise geometry [N, H, W, C, OH, OW, M, KH, KW, sh, sw, top, left], or null for cases it does not take (NCHW, dilation). */
function depthwiseGeometry(xShape: number[], filterShape: number[], attrs: Record<string, unknown>): Int32Array | null {
  const dil = attrs.dilations as number | [number, number] | undefined;
  if (attrs.dataFormat === 'NCHW' || (dil !== undefined && dil !== 1 && !(Array.isArray(dil) && dil[0] === 1 && dil[1] === 1))) return null;
  const info = tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number], filterShape as [number, number, number, number],
    attrs.strides as [number, number], 1, attrs.pad as 'valid', attrs.dimRoundingMode as 'round' | undefined, true, 'channelsLast');
  if (info.padInfo.top < 0 || info.padInfo.left < 0) return null;
  return Int32Array.from([info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, filterShape[3],
    info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left]);
}

const DEPTHWISE_KERNELS = ['DepthwiseConv2dNative', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter'];

/** DepthwiseConv2dNative and both its gradients run whole in the addon; other cases go to the kernel that was there before. */
function installAddonDepthwiseKernels(backendName: string, dw: Required<NativeDepthwise>): void {
  const f32 = (...t: TensorInfo[]) => t.every((x) => x.dtype === 'float32');
  // the backend's own kernel, else the one installed before (wasm's bridge to the cpu backend)
  const before = new Map(DEPTHWISE_KERNELS.map((k) => [k, originalKernel(k, backendName) ?? tf.getKernel(k, backendName) ?? null]));
  const fallback = (name: string, args: KernelArgs) => {
    const k = before.get(name);
    if (!k) throw new Error(`${name} on ${backendName}: no kernel for this case (NCHW or dilated) besides the addon's`);
    return k.kernelFunc(args as any);
  };
  const forward = (args: KernelArgs) => {
    const { inputs: { x, filter }, backend, attrs } = args;
    const g = f32(x, filter) ? depthwiseGeometry(x.shape, filter.shape, attrs) : null;
    if (!g) return fallback('DepthwiseConv2dNative', args);
    const out = makeOutput(backend, [g[0], g[4], g[5], g[3] * g[6]], 'float32', true);
    dw.depthwiseConv2dForward(viewF32(backend, x), viewF32(backend, filter), g, viewF32(backend, out));
    return out;
  };
  const backpropInput = (args: KernelArgs) => {
    const { inputs: { dy, filter }, backend, attrs } = args;
    const inShape = attrs.inputShape as number[];
    const g = f32(dy, filter) ? depthwiseGeometry(inShape, filter.shape, attrs) : null;
    if (!g) return fallback('DepthwiseConv2dNativeBackpropInput', args);
    const dx = makeOutput(backend, inShape, 'float32', true);
    dw.depthwiseConv2dBackpropInput(viewF32(backend, dy), viewF32(backend, filter), g, viewF32(backend, dx));
    return dx;
  };
  const backpropFilter = (args: KernelArgs) => {
    const { inputs: { x, dy }, backend, attrs } = args;
    const filterShape = attrs.filterShape as number[];
    const g = f32(x, dy) ? depthwiseGeometry(x.shape, filterShape, attrs) : null;
    if (!g) return fallback('DepthwiseConv2dNativeBackpropFilter', args);
    const df = makeOutput(backend, filterShape, 'float32', true);
    dw.depthwiseConv2dBackpropFilter(viewF32(backend, x), viewF32(backend, dy), g, viewF32(backend, df));
    return df;
  };
  overrideKernel({ kernelName: 'DepthwiseConv2dNative', backendName, kernelFunc: forward as unknown as tf.KernelFunc });
  overrideKernel({ kernelName: 'DepthwiseConv2dNativeBackpropInput', backendName, kernelFunc: backpropInput as unknown as tf.KernelFunc });
  overrideKernel({ kernelName: 'DepthwiseConv2dNativeBackpropFilter', backendName, kernelFunc: backpropFilter as unknown as tf.KernelFunc });
}

/**
 * The addon's depthwise kernels on `native` or `wasm` (where tfjs 4.22 has no depthwise gradients
 * and the completeness kernels bridge them to the cpu backend through copies); nothing when the
 * addon lacks them (the ort tier).
 */
export function installDepthwiseKernels(backendName: string, addon: NativeAddon): void {
  if (addon.depthwiseConv2dForward && addon.depthwiseConv2dBackpropInput && addon.depthwiseConv2dBackpropFilter) {
    installAddonDepthwiseKernels(backendName, addon as Required<NativeDepthwise>);
  }
}

export function uninstallDepthwiseKernels(backendName: string): void {
  restoreKernels(backendName, DEPTHWISE_KERNELS);
}

export function installConvKernels(backendName: string, addon: NativeAddon): void {
  if (addon.conv2dForward && addon.conv2dBackpropInput && addon.conv2dBackpropFilter) {
    installAddonConvKernels(backendName, addon as Required<NativeConv>);
    return;
  }
  const mm = (backend: KernelBackend, a: TensorInfo, b: TensorInfo, ta: boolean, tb: boolean) =>
    tf.getKernel('BatchMatMul', backendName)!.kernelFunc({ inputs: { a, b } as any, backend: backend as any, attrs: { transposeA: ta, transposeB: tb } as any }) as TensorInfo;

  const conv2d = (args: KernelArgs) => {
    const { inputs: { x, filter }, backend, attrs } = args;
    const g = x.dtype === 'float32' && filter.dtype === 'float32' ? geometry(x.shape, filter.shape, attrs) : null;
    if (!g) return originalKernel('Conv2D', backendName)!.kernelFunc(args as any);
    const P = g.KH * g.KW * g.CI, rowsPer = g.OH * g.OW;
    const w = { ...filter, shape: [P, g.CO] };
    if (pointwise(g)) {
      const y = mm(backend, { ...x, shape: [g.N * rowsPer, g.CI] }, w, false, false);
      return { ...y, shape: [g.N, g.OH, g.OW, g.CO] };
    }
    const out = makeOutput(backend, [g.N, g.OH, g.OW, g.CO], 'float32', true);
    const o = view(backend, out);
    const chunk = chunkOf(g);
    for (let n0 = 0; n0 < g.N; n0 += chunk) {
      const nb = Math.min(chunk, g.N - n0);
      const cols = makeOutput(backend, [nb * rowsPer, P], 'float32', true);
      im2col(view(backend, x) as Float32Array, g, n0, nb, view(backend, cols) as Float32Array);
      const part = mm(backend, cols, w, false, false);
      o.set(view(backend, part), n0 * rowsPer * g.CO);
      dispose(backend, cols, part);
    }
    return out;
  };

  const backpropInput = (args: KernelArgs) => {
    const { inputs: { dy, filter }, backend, attrs } = args;
    const inShape = attrs.inputShape as number[];
    const g = dy.dtype === 'float32' && filter.dtype === 'float32' ? geometry(inShape, filter.shape, attrs) : null;
    if (!g) return originalKernel('Conv2DBackpropInput', backendName)!.kernelFunc(args as any);
    const P = g.KH * g.KW * g.CI, rowsPer = g.OH * g.OW;
    const w = { ...filter, shape: [P, g.CO] };
    if (pointwise(g)) {
      const dx = mm(backend, { ...dy, shape: [g.N * rowsPer, g.CO] }, w, false, true);
      return { ...dx, shape: inShape };
    }
    const dx = makeOutput(backend, inShape, 'float32');
    const dxv = view(backend, dx) as Float32Array;
    const chunk = chunkOf(g);
    for (let n0 = 0; n0 < g.N; n0 += chunk) {
      const nb = Math.min(chunk, g.N - n0);
      const whole = nb === g.N;
      const dyPart = whole ? { ...dy, shape: [nb * rowsPer, g.CO] } : makeOutput(backend, [nb * rowsPer, g.CO], 'float32', true);
      if (!whole) view(backend, dyPart).set(view(backend, dy).subarray(n0 * rowsPer * g.CO, (n0 + nb) * rowsPer * g.CO));
      const cols = mm(backend, dyPart, w, false, true); // [rows, P]
      col2imAdd(view(backend, cols) as Float32Array, g, n0, nb, dxv);
      dispose(backend, cols);
      if (!whole) dispose(backend, dyPart);
    }
    return dx;
  };

  overrideKernel({ kernelName: 'Conv2D', backendName, kernelFunc: conv2d as unknown as tf.KernelFunc });
  overrideKernel({ kernelName: 'Conv2DBackpropInput', backendName, kernelFunc: backpropInput as unknown as tf.KernelFunc });
}

export function uninstallConvKernels(backendName: string): void {
  restoreKernels(backendName, ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter']);
}
