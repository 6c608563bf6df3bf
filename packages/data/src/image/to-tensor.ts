/**
 * OpenCLIP's `_convert_to_rgb` + torchvision `ToTensor` + `Normalize`: RGB bytes to float32
 * CHW as `u8 / 255` then `(x - mean) / std`, each step rounded to float32 as torch does.
 */
import { imageAddon, type ImageKernels } from './native.js';
import { convertToRgb, type PilImage } from './pil-image.js';

/** A preprocessed image: float32 CHW pixels and their shape. */
export interface ImageTensor {
  data: Float32Array;
  shape: [3, number, number];
}

const lutCache = new Map<string, Float32Array>();

/** 3 x 256 table of normalised values per channel and byte. */
export function normalizeTable(mean: readonly number[], std: readonly number[]): Float32Array {
  const key = `${mean.join(',')}|${std.join(',')}`;
  const hit = lutCache.get(key);
  if (hit) return hit;
  const lut = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    const m = Math.fround(mean[c]);
    const s = Math.fround(std[c]);
    for (let u = 0; u < 256; u++) {
      const x = Math.fround(u / 255);
      lut[c * 256 + u] = Math.fround(Math.fround(x - m) / s);
    }
  }
  if (lutCache.size > 64) lutCache.clear();
  lutCache.set(key, lut);
  return lut;
}

/**
 * Interleaved RGB bytes (H x W x 3) to normalised CHW float32, written into `out` if given
 * (the table lookup runs in `@openclip/data-native` when `kernels` allows; identical floats).
 */
export function rgbToTensor(
  rgb: Uint8Array, width: number, height: number, mean: readonly number[], std: readonly number[], out?: Float32Array, kernels: ImageKernels = 'auto',
): ImageTensor {
  const n = width * height;
  if (rgb.length !== n * 3) throw new Error(`expected ${n * 3} RGB bytes for ${width}x${height}, got ${rgb.length}`);
  const data = out ?? new Float32Array(3 * n);
  if (data.length !== 3 * n) throw new Error(`output buffer holds ${data.length} floats, need ${3 * n}`);
  const lut = normalizeTable(mean, std);
  const addon = imageAddon(kernels);
  if (addon) {
    addon.normalize(rgb, lut, data);
    return { data, shape: [3, height, width] };
  }
  for (let i = 0, p = 0; i < n; i++, p += 3) {
    data[i] = lut[rgb[p]];
    data[n + i] = lut[256 + rgb[p + 1]];
    data[2 * n + i] = lut[512 + rgb[p + 2]];
  }
  return { data, shape: [3, height, width] };
}

/** `_convert_to_rgb` then ToTensor and Normalize. */
export function toTensor(img: PilImage, mean: readonly number[], std: readonly number[], out?: Float32Array, kernels: ImageKernels = 'auto'): ImageTensor {
  return rgbToTensor(convertToRgb(img), img.width, img.height, mean, std, out, kernels);
}

/** Inverse for checks: round((x * std + mean) * 255) per value, as HWC RGB bytes. */
export function tensorToRgb(t: ImageTensor, mean: readonly number[], std: readonly number[]): Uint8Array {
  const [, h, w] = t.shape;
  const n = h * w;
  const out = new Uint8Array(n * 3);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) {
      const v = Math.round((t.data[c * n + i] * std[c] + mean[c]) * 255);
      out[i * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}
