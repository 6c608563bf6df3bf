/**
 * OpenCLIP's `resize_pos_embed` (vision grid, class token kept, bicubic `F.interpolate`) and
 * `resize_text_pos_embed` (linear over positions), implemented on Float32Array with PyTorch's
 * interpolation kernels: plain bicubic (cubic convolution, A = -0.75, clamped borders) and the
 * antialiased variant (`antialias=True`: support scaled on downsampling, A = -0.5, normalised
 * weights), with `align_corners=False` as OpenCLIP calls it.
 */
import type { RawTensor } from '@openclip/engine/safetensors';
import { toFloat32 } from '@openclip/engine/safetensors';

export type InterpolationMode = 'bicubic' | 'bilinear' | 'linear' | 'nearest';

function cubicConv1(x: number, a: number): number {
  return ((a + 2) * x - (a + 3)) * x * x + 1;
}
function cubicConv2(x: number, a: number): number {
  return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
}

/** torch's four bicubic coefficients for fractional offset t (get_cubic_upsample_coefficients). */
export function cubicCoefficients(t: number, a = -0.75): [number, number, number, number] {
  return [cubicConv2(t + 1, a), cubicConv1(t, a), cubicConv1(1 - t, a), cubicConv2(2 - t, a)];
}

/** The antialias filters of torch's `_upsample_*_aa` kernels. */
function aaFilter(mode: 'bicubic' | 'linear', x: number): number {
  x = Math.abs(x);
  if (mode === 'linear') return x < 1 ? 1 - x : 0;
  const a = -0.5;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

interface Taps {
  start: Int32Array;
  count: Int32Array;
  weights: Float32Array; // [out, maxTaps]
  maxTaps: number;
}

/** Antialiased resampling taps along one axis (torch compute_indices_weights_aa). */
function aaTaps(mode: 'bicubic' | 'linear', inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const interpSize = mode === 'bicubic' ? 4 : 2;
  const support = scale >= 1 ? (interpSize / 2) * scale : interpSize / 2;
  const invscale = scale >= 1 ? 1 / scale : 1;
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float32Array(outSize * maxTaps);
  for (let i = 0; i < outSize; i++) {
    const center = scale * (i + 0.5);
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xsize = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let total = 0;
    const w = new Float64Array(xsize);
    for (let j = 0; j < xsize; j++) {
      w[j] = aaFilter(mode, (j + xmin - center + 0.5) * invscale);
      total += w[j];
    }
    start[i] = xmin;
    count[i] = xsize;
    for (let j = 0; j < xsize; j++) weights[i * maxTaps + j] = total !== 0 ? w[j] / total : 0;
  }
  return { start, count, weights, maxTaps };
}

function resampleAxisAA(src: Float32Array, outer: number, inSize: number, inner: number, outSize: number, taps: Taps): Float32Array {
  const out = new Float32Array(outer * outSize * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < outSize; i++) {
      const s = taps.start[i];
      const n = taps.count[i];
      for (let c = 0; c < inner; c++) {
        let acc = 0;
        for (let j = 0; j < n; j++) acc += taps.weights[i * taps.maxTaps + j] * src[(o * inSize + s + j) * inner + c];
        out[(o * outSize + i) * inner + c] = acc;
      }
    }
  }
  return out;
}

/**
 * Resizes a channels-last grid `[inH, inW, C]` to `[outH, outW, C]` like
 * `F.interpolate(x.permute(2,0,1)[None], size=(outH, outW), mode, align_corners=False, antialias)`.
 */
export function interpolateGrid(
  src: Float32Array,
  inH: number,
  inW: number,
  channels: number,
  outH: number,
  outW: number,
  options: { mode?: 'bicubic' | 'bilinear' | 'nearest'; antialias?: boolean } = {},
): Float32Array {
  const mode = options.mode ?? 'bicubic';
  if (src.length !== inH * inW * channels) throw new Error(`grid has ${src.length} values, expected ${inH}x${inW}x${channels}`);
  if (inH === outH && inW === outW) return src.slice();
  if (options.antialias && mode !== 'nearest') {
    const m = mode === 'bicubic' ? 'bicubic' : 'linear';
    // Horizontal pass first, then vertical (as torch's separable AA kernel).
    const h = resampleAxisAA(src, inH, inW, channels, outW, aaTaps(m, inW, outW));
    return resampleAxisAA(h, 1, inH, outW * channels, outH, aaTaps(m, inH, outH));
  }
  const out = new Float32Array(outH * outW * channels);
  const sh = inH / outH;
  const sw = inW / outW;
  const at = (y: number, x: number, c: number) => src[(Math.min(Math.max(y, 0), inH - 1) * inW + Math.min(Math.max(x, 0), inW - 1)) * channels + c];
  if (mode === 'nearest') {
    for (let y = 0; y < outH; y++) {
      const iy = Math.min(Math.floor(y * sh), inH - 1);
      for (let x = 0; x < outW; x++) {
        const ix = Math.min(Math.floor(x * sw), inW - 1);
        for (let c = 0; c < channels; c++) out[(y * outW + x) * channels + c] = at(iy, ix, c);
      }
    }
    return out;
  }
  if (mode === 'bilinear') {
    for (let y = 0; y < outH; y++) {
      const ry = Math.max(sh * (y + 0.5) - 0.5, 0);
      const y0 = Math.floor(ry);
      const ly = ry - y0;
      const y1 = Math.min(y0 + 1, inH - 1);
      for (let x = 0; x < outW; x++) {
        const rx = Math.max(sw * (x + 0.5) - 0.5, 0);
        const x0 = Math.floor(rx);
        const lx = rx - x0;
        const x1 = Math.min(x0 + 1, inW - 1);
        for (let c = 0; c < channels; c++) {
          out[(y * outW + x) * channels + c] =
            (1 - ly) * ((1 - lx) * at(y0, x0, c) + lx * at(y0, x1, c)) + ly * ((1 - lx) * at(y1, x0, c) + lx * at(y1, x1, c));
        }
      }
    }
    return out;
  }
  // Plain bicubic: per output pixel, four horizontal interpolations then one vertical (torch's order).
  for (let y = 0; y < outH; y++) {
    const ry = sh * (y + 0.5) - 0.5;
    const iy = Math.floor(ry);
    const wy = cubicCoefficients(ry - iy);
    for (let x = 0; x < outW; x++) {
      const rx = sw * (x + 0.5) - 0.5;
      const ix = Math.floor(rx);
      const wx = cubicCoefficients(rx - ix);
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let r = 0; r < 4; r++) {
          const yy = iy - 1 + r;
          const row = at(yy, ix - 1, c) * wx[0] + at(yy, ix, c) * wx[1] + at(yy, ix + 1, c) * wx[2] + at(yy, ix + 2, c) * wx[3];
          acc += row * wy[r];
        }
        out[(y * outW + x) * channels + c] = acc;
      }
    }
  }
  return out;
}

/** Resizes `[inLen, C]` rows to `[outLen, C]` like `F.interpolate(mode='linear'|'nearest', align_corners=False)` over positions. */
export function interpolateRows(src: Float32Array, inLen: number, channels: number, outLen: number, options: { mode?: 'linear' | 'nearest' | 'bicubic'; antialias?: boolean } = {}): Float32Array {
  const mode = options.mode ?? 'linear';
  if (mode === 'bicubic') return interpolateGrid(src, 1, inLen, channels, 1, outLen, { mode: 'bicubic', antialias: options.antialias });
  if (options.antialias && mode === 'linear') return resampleAxisAA(src, 1, inLen, channels, outLen, aaTaps('linear', inLen, outLen));
  return interpolateGrid(src, 1, inLen, channels, 1, outLen, { mode: mode === 'linear' ? 'bilinear' : 'nearest' });
}

export interface ResizePosEmbedOptions {
  /** `F.interpolate` mode (OpenCLIP default 'bicubic'). */
  interpolation?: 'bicubic' | 'bilinear' | 'nearest';
  /** OpenCLIP 3.1.0 passes antialias=True by default. */
  antialias?: boolean;
  /** Leading non-grid tokens (the class token). OpenCLIP assumes 1. */
  extraTokens?: number;
  /** State-dict key (default `visual.positional_embedding`). */
  key?: string;
}

function asF32(t: RawTensor): Float32Array {
  return t.dtype === 'F32' ? (t.data as Float32Array) : toFloat32(t);
}

/**
 * OpenCLIP `resize_pos_embed`: when the checkpoint's vision positional embedding has a different
 * grid than the model (`newGridSize`), keeps the class token and resizes the grid. Returns true
 * when it changed the entry. The old grid is assumed square, as OpenCLIP does.
 */
export function resizePosEmbed(stateDict: Map<string, RawTensor>, newGridSize: number | [number, number], options: ResizePosEmbedOptions = {}): boolean {
  const key = options.key ?? 'visual.positional_embedding';
  const old = stateDict.get(key);
  if (!old) return false;
  const [gh, gw] = typeof newGridSize === 'number' ? [newGridSize, newGridSize] : newGridSize;
  const extra = options.extraTokens ?? 1;
  if (old.shape.length !== 2) throw new Error(`${key}: expected a 2-D [tokens, width] tensor, got shape [${old.shape}]`);
  const [oldLen, width] = old.shape;
  const newLen = gh * gw + extra;
  if (newLen === oldLen) return false;
  const gridLen = oldLen - extra;
  const oldSide = Math.trunc(Math.sqrt(gridLen));
  if (oldSide * oldSide !== gridLen) throw new Error(`${key}: ${gridLen} grid tokens (after ${extra} extra) do not form a square grid`);
  const data = asF32(old);
  const resized = interpolateGrid(data.subarray(extra * width), oldSide, oldSide, width, gh, gw, {
    mode: options.interpolation ?? 'bicubic',
    antialias: options.antialias ?? true,
  });
  const out = new Float32Array(newLen * width);
  out.set(data.subarray(0, extra * width));
  out.set(resized, extra * width);
  stateDict.set(key, { dtype: 'F32', shape: [newLen, width], data: out });
  return true;
}

export interface ResizeTextPosEmbedOptions {
  /** OpenCLIP default 'linear'. */
  interpolation?: 'linear' | 'nearest' | 'bicubic';
  /** OpenCLIP default false. */
  antialias?: boolean;
  /** State-dict key: `positional_embedding` (CLIP layout, OpenCLIP's only key) or `text.positional_embedding`. */
  key?: string;
}

/** OpenCLIP `resize_text_pos_embed`: interpolates the text positional embedding to `numPositions` rows. */
export function resizeTextPosEmbed(stateDict: Map<string, RawTensor>, numPositions: number, width: number, options: ResizeTextPosEmbedOptions = {}): boolean {
  const key = options.key ?? 'positional_embedding';
  const old = stateDict.get(key);
  if (!old) return false;
  if (old.shape.length !== 2) throw new Error(`${key}: expected a 2-D [positions, width] tensor, got shape [${old.shape}]`);
  const [oldNum, oldWidth] = old.shape;
  if (oldWidth !== width) throw new Error(`${key}: text positional embedding width changed (${oldWidth} in the checkpoint, ${width} in the model)`);
  if (oldNum === numPositions) return false;
  const out = interpolateRows(asF32(old), oldNum, width, numPositions, { mode: options.interpolation ?? 'linear', antialias: options.antialias ?? false });
  stateDict.set(key, { dtype: 'F32', shape: [numPositions, width], data: out });
  return true;
}
