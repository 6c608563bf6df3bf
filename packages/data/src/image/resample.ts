/**
 * Pillow's `Image.resize` resampling (libImaging Resample.c, Pillow 9.4) as torchvision's
 * `Resize` calls it on a PIL image: separable antialiased filters (support scaled by the
 * downscale factor), horizontal pass first, 8-bit fixed-point coefficients with an 8-bit
 * clamped intermediate; double coefficients for 32-bit integer ('I') images; affine NEAREST.
 * Supports computing only a sub-rectangle of the output (for a later crop), which gives the
 * same pixels as resizing everything and cropping.
 */

import { imageAddon, type ImageKernels } from './native.js';

export type ResampleFilter = 'nearest' | 'bilinear' | 'bicubic';

/** Pillow's PRECISION_BITS: 32 - 8 - 2. */
const PRECISION_BITS = 22;
const HALF = 1 << (PRECISION_BITS - 1);
const ONE = 1 << PRECISION_BITS;

function bilinearFilter(x: number): number {
  if (x < 0) x = -x;
  return x < 1 ? 1 - x : 0;
}

/** Keys' cubic convolution with a = -0.5, as Pillow's bicubic_filter. */
function bicubicFilter(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

const FILTERS = {
  bilinear: { fn: bilinearFilter, support: 1 },
  bicubic: { fn: bicubicFilter, support: 2 },
} as const;

/** Per-output-pixel source window and weights for one axis (Pillow's precompute_coeffs). */
export interface ResampleCoeffs {
  inSize: number;
  outSize: number;
  /** Maximum taps per output pixel; weights of pixel i start at i * ksize. */
  ksize: number;
  /** [first source index, tap count] per output pixel. */
  bounds: Int32Array;
  /** Normalised double weights (used for 'I' images). */
  weights: Float64Array;
  /** Weights in PRECISION_BITS fixed point (used for 8-bit images). */
  fixed: Int32Array;
}

const coeffCache = new Map<string, ResampleCoeffs>();
const COEFF_CACHE_LIMIT = 256;

/** Coefficients for resizing an axis of `inSize` pixels to `outSize` (whole-image box), cached. */
export function resampleCoeffs(inSize: number, outSize: number, filter: 'bilinear' | 'bicubic'): ResampleCoeffs {
  const key = `${filter}:${inSize}:${outSize}`;
  const hit = coeffCache.get(key);
  if (hit) return hit;
  const { fn, support: baseSupport } = FILTERS[filter];
  const scale = inSize / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = baseSupport * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Float64Array(outSize * ksize);
  const fixed = new Int32Array(outSize * ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // Pillow truncates (C int cast) after adding 0.5.
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    const base = xx * ksize;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = fn((x + xmin - center + 0.5) * ss);
      weights[base + x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      if (ww !== 0) weights[base + x] /= ww;
      const k = weights[base + x];
      fixed[base + x] = k < 0 ? Math.trunc(-0.5 + k * ONE) : Math.trunc(0.5 + k * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  const coeffs: ResampleCoeffs = { inSize, outSize, ksize, bounds, weights, fixed };
  if (coeffCache.size >= COEFF_CACHE_LIMIT) coeffCache.clear();
  coeffCache.set(key, coeffs);
  return coeffs;
}

/** A rectangle of the resized image: columns [left, left+width), rows [top, top+height). */
export interface Region {
  left: number;
  top: number;
  width: number;
  height: number;
}

function checkRegion(outW: number, outH: number, r: Region): void {
  if (r.left < 0 || r.top < 0 || r.width < 0 || r.height < 0 || r.left + r.width > outW || r.top + r.height > outH) {
    throw new Error(`resample region ${JSON.stringify(r)} is outside the ${outW}x${outH} output`);
  }
}

function clip8(v: number): number {
  const s = v >> PRECISION_BITS;
  return s < 0 ? 0 : s > 255 ? 255 : s;
}

/**
 * Resize interleaved 8-bit pixels (`channels` bands) from w x h to outW x outH with a
 * bilinear/bicubic filter, returning only `region` of the result (default: all of it).
 * `kernels` picks the C++ twin of this code in `@openclip/data-native` (same coefficients,
 * same integer sums, same bytes) or the TypeScript code; `auto` uses the addon when it loaded.
 * The result is written into `dst` when given (length region width x height x channels).
 */
export function resampleU8(
  src: Uint8Array, w: number, h: number, channels: number,
  outW: number, outH: number, filter: 'bilinear' | 'bicubic', region?: Region, kernels: ImageKernels = 'auto', dst?: Uint8Array,
): Uint8Array {
  const r = region ?? { left: 0, top: 0, width: outW, height: outH };
  checkRegion(outW, outH, r);
  if (src.length !== w * h * channels) throw new Error(`resample: expected ${w * h * channels} bytes for ${w}x${h}x${channels}, got ${src.length}`);
  const n = r.width * r.height * channels;
  if (dst && dst.length !== n) throw new Error(`resample: dst holds ${dst.length} bytes, the ${r.width}x${r.height}x${channels} region needs ${n}`);
  const addon = imageAddon(kernels);
  if (addon) {
    const out = dst ?? new Uint8Array(n);
    if (out.length === 0) return out;
    const hc = outW !== w ? resampleCoeffs(w, outW, filter) : null;
    const vc = outH !== h ? resampleCoeffs(h, outH, filter) : null;
    addon.resample8(
      src, w, h, channels, outW, outH, r.left, r.top, r.width, r.height,
      hc?.bounds ?? null, hc?.fixed ?? null, hc?.ksize ?? 0, vc?.bounds ?? null, vc?.fixed ?? null, vc?.ksize ?? 0, out,
    );
    return out;
  }
  const out = resampleU8Js(src, w, h, channels, outW, outH, filter, r);
  if (!dst) return out;
  dst.set(out);
  return dst;
}

/** The TypeScript resampler (what `resampleU8` runs without the addon). */
function resampleU8Js(
  src: Uint8Array, w: number, h: number, channels: number,
  outW: number, outH: number, filter: 'bilinear' | 'bicubic', r: Region,
): Uint8Array {
  const needH = outW !== w;
  const needV = outH !== h;
  const C = channels;
  // Source rows the vertical pass reads for output rows [r.top, r.top + r.height).
  let vc: ResampleCoeffs | null = null;
  let y0: number;
  let y1: number;
  if (!needV) {
    y0 = r.top;
    y1 = r.top + r.height;
  } else {
    vc = resampleCoeffs(h, outH, filter);
    if (r.height === 0) {
      y0 = 0;
      y1 = 0;
    } else {
      const last = r.top + r.height - 1;
      y0 = vc.bounds[r.top * 2];
      y1 = vc.bounds[last * 2] + vc.bounds[last * 2 + 1];
      // Bounds are not monotone in theory; take the full span used by the region.
      for (let yy = r.top; yy <= last; yy++) {
        const a = vc.bounds[yy * 2];
        const b = a + vc.bounds[yy * 2 + 1];
        if (a < y0) y0 = a;
        if (b > y1) y1 = b;
      }
    }
  }
  // Horizontal pass: rows [y0, y1) of the source, output columns [r.left, r.left + r.width).
  const tw = r.width;
  const rows = y1 - y0;
  let temp: Uint8Array;
  if (needH) {
    const hc = resampleCoeffs(w, outW, filter);
    temp = new Uint8Array(rows * tw * C);
    const { bounds, fixed, ksize } = hc;
    const rowStride = w * C;
    for (let y = 0; y < rows; y++) {
      const srow = (y + y0) * rowStride;
      let o = y * tw * C;
      for (let xx = r.left; xx < r.left + tw; xx++) {
        const xmin = bounds[xx * 2];
        const n = bounds[xx * 2 + 1];
        const kb = xx * ksize;
        if (C === 3) {
          let s0 = HALF;
          let s1 = HALF;
          let s2 = HALF;
          let p = srow + xmin * 3;
          for (let x = 0; x < n; x++, p += 3) {
            const k = fixed[kb + x];
            s0 = (s0 + Math.imul(src[p], k)) | 0;
            s1 = (s1 + Math.imul(src[p + 1], k)) | 0;
            s2 = (s2 + Math.imul(src[p + 2], k)) | 0;
          }
          temp[o++] = clip8(s0);
          temp[o++] = clip8(s1);
          temp[o++] = clip8(s2);
        } else {
          for (let c = 0; c < C; c++) {
            let s = HALF;
            let p = srow + xmin * C + c;
            for (let x = 0; x < n; x++, p += C) s = (s + Math.imul(src[p], fixed[kb + x])) | 0;
            temp[o++] = clip8(s);
          }
        }
      }
    }
  } else {
    temp = new Uint8Array(rows * tw * C);
    for (let y = 0; y < rows; y++) {
      const s = ((y + y0) * w + r.left) * C;
      temp.set(src.subarray(s, s + tw * C), y * tw * C);
    }
  }
  if (!needV || vc === null) return temp;
  // Vertical pass over the horizontal result (row y of temp is source row y + y0).
  const out = new Uint8Array(r.height * tw * C);
  const rowLen = tw * C;
  const { bounds, fixed, ksize } = vc;
  // Taps are summed eight rows at a time (unrolled; int32 wrap-around is associative, so the
  // grouping gives Pillow's sums exactly). Missing taps point at the first row with weight 0.
  const acc = new Int32Array(rowLen);
  const b = new Int32Array(8);
  const kk = new Int32Array(8);
  for (let yy = 0; yy < r.height; yy++) {
    const oy = yy + r.top;
    const ymin = bounds[oy * 2] - y0;
    const n = bounds[oy * 2 + 1];
    const o = yy * rowLen;
    for (let g = 0; g < n; g += 8) {
      for (let t = 0; t < 8; t++) {
        const tap = g + t;
        b[t] = tap < n ? (ymin + tap) * rowLen : ymin * rowLen;
        kk[t] = tap < n ? fixed[oy * ksize + tap] : 0;
      }
      const b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3], b4 = b[4], b5 = b[5], b6 = b[6], b7 = b[7];
      const k0 = kk[0], k1 = kk[1], k2 = kk[2], k3 = kk[3], k4 = kk[4], k5 = kk[5], k6 = kk[6], k7 = kk[7];
      const first = g === 0;
      const last = g + 8 >= n;
      for (let i = 0; i < rowLen; i++) {
        const s = ((first ? HALF : acc[i]) + Math.imul(temp[b0 + i], k0) + Math.imul(temp[b1 + i], k1)
          + Math.imul(temp[b2 + i], k2) + Math.imul(temp[b3 + i], k3) + Math.imul(temp[b4 + i], k4)
          + Math.imul(temp[b5 + i], k5) + Math.imul(temp[b6 + i], k6) + Math.imul(temp[b7 + i], k7)) | 0;
        if (last) out[o + i] = clip8(s);
        else acc[i] = s;
      }
    }
  }
  return out;
}

/** C's `(int)(f >= 0 ? f + 0.5 : f - 0.5)` as Pillow's ROUND_UP, saturated to int32. */
function roundUpI32(f: number): number {
  const v = Math.trunc(f >= 0 ? f + 0.5 : f - 0.5);
  return v > 2147483647 ? 2147483647 : v < -2147483648 ? -2147483648 : v;
}

/** Resize a single-band 32-bit integer image (PIL mode 'I') with double weights, as Pillow does. */
export function resampleI32(
  src: Int32Array, w: number, h: number, outW: number, outH: number, filter: 'bilinear' | 'bicubic',
): Int32Array {
  let cur = src;
  let cw = w;
  if (outW !== w) {
    const hc = resampleCoeffs(w, outW, filter);
    const next = new Int32Array(outW * h);
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < outW; xx++) {
        const xmin = hc.bounds[xx * 2];
        const n = hc.bounds[xx * 2 + 1];
        let s = 0;
        for (let x = 0; x < n; x++) s += cur[y * cw + xmin + x] * hc.weights[xx * hc.ksize + x];
        next[y * outW + xx] = roundUpI32(s);
      }
    }
    cur = next;
    cw = outW;
  }
  if (outH !== h) {
    const vc = resampleCoeffs(h, outH, filter);
    const next = new Int32Array(cw * outH);
    for (let yy = 0; yy < outH; yy++) {
      const ymin = vc.bounds[yy * 2];
      const n = vc.bounds[yy * 2 + 1];
      for (let x = 0; x < cw; x++) {
        let s = 0;
        for (let y = 0; y < n; y++) s += cur[(ymin + y) * cw + x] * vc.weights[yy * vc.ksize + y];
        next[yy * cw + x] = roundUpI32(s);
      }
    }
    cur = next;
  }
  return cur === src ? src.slice() : cur;
}

/**
 * Source index per output pixel for Pillow's NEAREST resize (an affine scale): the
 * coordinate starts at s/2 and adds s = in/out per pixel in float64, then truncates;
 * -1 marks a coordinate outside the source (Pillow leaves those pixels zero).
 */
export function nearestIndices(inSize: number, outSize: number): Int32Array {
  const s = inSize / outSize;
  const idx = new Int32Array(outSize);
  let xo = s * 0.5;
  for (let x = 0; x < outSize; x++) {
    const v = xo < 0 ? -1 : Math.trunc(xo);
    idx[x] = v >= 0 && v < inSize ? v : -1;
    xo += s;
  }
  return idx;
}

/** NEAREST resize of interleaved pixels (any typed array), returning `region` of the result. */
export function resampleNearest<T extends Uint8Array | Int32Array>(
  src: T, w: number, h: number, channels: number, outW: number, outH: number, region?: Region,
): T {
  const r = region ?? { left: 0, top: 0, width: outW, height: outH };
  checkRegion(outW, outH, r);
  const xi = nearestIndices(w, outW);
  const yi = nearestIndices(h, outH);
  const out = new (src.constructor as { new (n: number): T })(r.width * r.height * channels);
  let o = 0;
  for (let yy = r.top; yy < r.top + r.height; yy++) {
    const sy = yi[yy];
    for (let xx = r.left; xx < r.left + r.width; xx++) {
      const sx = xi[xx];
      if (sy < 0 || sx < 0) {
        o += channels;
        continue;
      }
      const p = (sy * w + sx) * channels;
      for (let c = 0; c < channels; c++) out[o++] = src[p + c];
    }
  }
  return out;
}

/** RGBA -> RGBa / LA -> La: Pillow's premultiply, (t>>8 + t)>>8 with t = c*a + 128. */
export function premultiply(src: Uint8Array, channels: 2 | 4): Uint8Array {
  const out = new Uint8Array(src.length);
  const ac = channels - 1;
  for (let p = 0; p < src.length; p += channels) {
    const a = src[p + ac];
    for (let c = 0; c < ac; c++) {
      const t = src[p + c] * a + 128;
      out[p + c] = ((t >> 8) + t) >> 8;
    }
    out[p + ac] = a;
  }
  return out;
}

/** RGBa -> RGBA / La -> LA in place: c = a in {0, 255} ? c : min(255, floor(255 c / a)). */
export function unpremultiplyInPlace(data: Uint8Array, channels: 2 | 4): Uint8Array {
  const ac = channels - 1;
  for (let p = 0; p < data.length; p += channels) {
    const a = data[p + ac];
    if (a === 0 || a === 255) continue;
    for (let c = 0; c < ac; c++) {
      const v = Math.floor((255 * data[p + c]) / a);
      data[p + c] = v > 255 ? 255 : v;
    }
  }
  return data;
}
