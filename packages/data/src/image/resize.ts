/**
 * torchvision `Resize` / open_clip `ResizeKeepRatio` on a PIL image: the output-size rules
 * (shortest side with truncation of the long side, keep-ratio with Python round) and PIL's
 * per-mode resize (NEAREST forced for '1' and 'P', premultiplied alpha for LA / RGBA, a copy
 * when the size does not change), fused with the crop / pad that follows.
 */
import { pyRound } from './center-crop.js';
import { fillPixel, type PilImage } from './pil-image.js';
import type { ImageKernels } from './native.js';
import {
  premultiply, resampleI32, resampleNearest, resampleU8, unpremultiplyInPlace,
  type Region, type ResampleFilter,
} from './resample.js';

/** torchvision `Resize(size: int)`: short side -> size, long side -> int(size * long / short). */
export function shortestEdgeSize(width: number, height: number, size: number): [number, number] {
  if (width <= height) return [size, Math.trunc((size * height) / width)];
  return [Math.trunc((size * width) / height), size];
}

/**
 * open_clip `ResizeKeepRatio.get_params` (no random scale/aspect): ratio is the larger
 * (`longest` = 1) or smaller (0) of H/h and W/w, size = [round(H / ratio), round(W / ratio)].
 * Returns [width, height].
 */
export function keepRatioSize(width: number, height: number, targetH: number, targetW: number, longest: 0 | 1): [number, number] {
  const rh = height / targetH;
  const rw = width / targetW;
  const ratio = longest === 1 ? Math.max(rh, rw) : Math.min(rh, rw);
  return [pyRound(width / ratio), pyRound(height / ratio)];
}

function resizeInside(
  img: PilImage, outW: number, outH: number, filter: ResampleFilter, r: Region, kernels: ImageKernels, alloc?: (n: number) => Uint8Array,
): Uint8Array | Int32Array {
  const { width: w, height: h, channels: C, data } = img;
  if (outW === w && outH === h) {
    // PIL returns an unmodified copy: only the crop remains.
    const out = new (data.constructor as { new (n: number): Uint8Array | Int32Array })(r.width * r.height * C);
    for (let y = 0; y < r.height; y++) {
      const s = ((y + r.top) * w + r.left) * C;
      out.set(data.subarray(s, s + r.width * C), y * r.width * C);
    }
    return out;
  }
  if (filter === 'nearest' || img.mode === '1' || img.mode === 'P') {
    return resampleNearest(data, w, h, C, outW, outH, r);
  }
  if (img.mode === 'I') {
    const full = resampleI32(data as Int32Array, w, h, outW, outH, filter);
    return resizeInside({ ...img, width: outW, height: outH, data: full }, outW, outH, filter, r, kernels);
  }
  if (img.mode === 'LA' || img.mode === 'RGBA') {
    const pre = premultiply(data as Uint8Array, C as 2 | 4);
    return unpremultiplyInPlace(resampleU8(pre, w, h, C, outW, outH, filter, r, kernels), C as 2 | 4);
  }
  return resampleU8(data as Uint8Array, w, h, C, outW, outH, filter, r, kernels, alloc?.(r.width * r.height * C));
}

/**
 * Resizes `img` to outW x outH and returns the window `region` of the result (which may
 * extend past the resized image: those pixels are padding with `fill`, per band as
 * torchvision pads PIL images, a palette index for mode 'P'). `kernels` selects the resampler
 * (`@openclip/data-native` or TypeScript; identical output). `alloc(n)` may supply the memory of
 * an 8-bit resized result (a caller's reusable buffer).
 */
export function resizeAndCrop(
  img: PilImage, outW: number, outH: number, filter: ResampleFilter, region: Region, fill = 0, kernels: ImageKernels = 'auto',
  alloc?: (n: number) => Uint8Array,
): PilImage {
  const x0 = Math.max(0, region.left);
  const y0 = Math.max(0, region.top);
  const x1 = Math.min(outW, region.left + region.width);
  const y1 = Math.min(outH, region.top + region.height);
  const inner: Region = { left: x0, top: y0, width: Math.max(0, x1 - x0), height: Math.max(0, y1 - y0) };
  const C = img.channels;
  const direct = inner.width === region.width && inner.height === region.height;
  const inside = inner.width > 0 && inner.height > 0 ? resizeInside(img, outW, outH, filter, inner, kernels, direct ? alloc : undefined) : null;
  const base = { mode: img.mode, channels: C, width: region.width, height: region.height, ...(img.palette ? { palette: img.palette } : {}) };
  if (inside && inner.width === region.width && inner.height === region.height) return { ...base, data: inside };
  const Ctor = img.data.constructor as { new (n: number): Uint8Array | Int32Array };
  const out = new Ctor(region.width * region.height * C);
  const px = fillPixel(img, fill);
  for (let i = 0; i < out.length; i += C) for (let c = 0; c < C; c++) out[i + c] = px[c];
  if (inside) {
    const dx = inner.left - region.left;
    const dy = inner.top - region.top;
    for (let y = 0; y < inner.height; y++) {
      out.set(inside.subarray(y * inner.width * C, (y + 1) * inner.width * C), ((y + dy) * region.width + dx) * C);
    }
  }
  return { ...base, data: out };
}

/** PIL `Image.resize((outW, outH), filter)` of the whole image. */
export function resizeImage(img: PilImage, outW: number, outH: number, filter: ResampleFilter, kernels: ImageKernels = 'auto'): PilImage {
  return resizeAndCrop(img, outW, outH, filter, { left: 0, top: 0, width: outW, height: outH }, 0, kernels);
}

/** PIL `Image.crop((left, top, left + width, top + height))`; outside pixels are 0. */
export function cropImage(img: PilImage, region: Region): PilImage {
  return resizeAndCrop(img, img.width, img.height, 'nearest', region, 0);
}
