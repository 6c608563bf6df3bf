/**
 * torchvision `ColorJitter` and `Grayscale(3)` on a PIL RGB image, as OpenCLIP's
 * `color_jitter` / `gray_scale` wrappers apply them: PIL ImageEnhance blends (float32 alpha,
 * truncation), the ITU-R 601 luma `L24 >> 16`, and hue shifts through PIL's HSV conversion.
 * Operates in place on interleaved RGB bytes.
 */
import type { Rng } from '@openclip/engine/rng';

/** PIL `convert('L')` of one RGB pixel. */
function luma(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
}

/** PIL `Image.blend(degenerate, img, alpha)` where `degenerate(i)` gives the degenerate byte. */
function blend(rgb: Uint8Array, alpha: number, degenerate: (i: number) => number): void {
  const a = Math.fround(alpha);
  const interpolate = a >= 0 && a <= 1;
  for (let i = 0; i < rgb.length; i++) {
    const d = degenerate(i);
    const v = Math.fround(d + Math.fround(a * (rgb[i] - d)));
    if (interpolate) rgb[i] = Math.trunc(v);
    else rgb[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v);
  }
}

/** ImageEnhance.Brightness(img).enhance(factor). */
export function adjustBrightness(rgb: Uint8Array, factor: number): void {
  blend(rgb, factor, () => 0);
}

/** ImageEnhance.Contrast(img).enhance(factor): blend with the rounded mean luma. */
export function adjustContrast(rgb: Uint8Array, factor: number): void {
  let sum = 0;
  const n = rgb.length / 3;
  for (let p = 0; p < rgb.length; p += 3) sum += luma(rgb[p], rgb[p + 1], rgb[p + 2]);
  const mean = Math.trunc(sum / n + 0.5);
  blend(rgb, factor, () => mean);
}

/** ImageEnhance.Color(img).enhance(factor): blend with the grey version. */
export function adjustSaturation(rgb: Uint8Array, factor: number): void {
  const grey = new Uint8Array(rgb.length / 3);
  for (let i = 0, p = 0; i < grey.length; i++, p += 3) grey[i] = luma(rgb[p], rgb[p + 1], rgb[p + 2]);
  blend(rgb, factor, (i) => grey[(i / 3) | 0]);
}

/** torchvision adjust_hue on PIL: RGB -> HSV (PIL), H += uint8(factor * 255) mod 256, HSV -> RGB. */
export function adjustHue(rgb: Uint8Array, factor: number): void {
  if (!(factor >= -0.5 && factor <= 0.5)) throw new Error(`hue factor ${factor} is not in [-0.5, 0.5]`);
  const shift = ((Math.trunc(factor * 255) % 256) + 256) % 256;
  const f32 = Math.fround;
  for (let p = 0; p < rgb.length; p += 3) {
    const r = rgb[p];
    const g = rgb[p + 1];
    const b = rgb[p + 2];
    const maxc = Math.max(r, g, b);
    const minc = Math.min(r, g, b);
    let uh = 0;
    let us = 0;
    const v = maxc;
    if (minc !== maxc) {
      const cr = maxc - minc;
      const s = f32(cr / maxc);
      const rc = f32((maxc - r) / cr);
      const gc = f32((maxc - g) / cr);
      const bc = f32((maxc - b) / cr);
      let h: number;
      if (r === maxc) h = f32(bc - gc);
      else if (g === maxc) h = f32(2 + rc - bc);
      else h = f32(4 + gc - rc);
      h = f32((h / 6 + 1) % 1);
      uh = Math.min(255, Math.max(0, Math.trunc(h * 255)));
      us = Math.min(255, Math.max(0, Math.trunc(s * 255)));
    }
    const hh = (uh + shift) & 255;
    if (us === 0) {
      rgb[p] = v;
      rgb[p + 1] = v;
      rgb[p + 2] = v;
      continue;
    }
    const i = Math.floor((hh * 6) / 255);
    const f = f32((hh * 6) / 255 - i);
    const fs = f32(us / 255);
    const clip = (x: number): number => (x <= 0 ? 0 : x >= 255 ? 255 : x);
    const pp = clip(Math.round(v * (1 - fs)));
    const q = clip(Math.round(v * (1 - f32(fs * f))));
    const t = clip(Math.round(v * (1 - fs * (1 - f))));
    let o0: number;
    let o1: number;
    let o2: number;
    switch (i % 6) {
      case 0: o0 = v; o1 = t; o2 = pp; break;
      case 1: o0 = q; o1 = v; o2 = pp; break;
      case 2: o0 = pp; o1 = v; o2 = t; break;
      case 3: o0 = pp; o1 = q; o2 = v; break;
      case 4: o0 = t; o1 = pp; o2 = v; break;
      default: o0 = v; o1 = pp; o2 = q; break;
    }
    rgb[p] = o0;
    rgb[p + 1] = o1;
    rgb[p + 2] = o2;
  }
}

/** torchvision Grayscale(num_output_channels=3) on PIL: luma replicated on R, G, B. */
export function toGrayscale(rgb: Uint8Array): void {
  for (let p = 0; p < rgb.length; p += 3) {
    const l = luma(rgb[p], rgb[p + 1], rgb[p + 2]);
    rgb[p] = l;
    rgb[p + 1] = l;
    rgb[p + 2] = l;
  }
}

/** Factor ranges of a ColorJitter (null: that adjustment is skipped). */
export interface ColorJitterRanges {
  brightness: [number, number] | null;
  contrast: [number, number] | null;
  saturation: [number, number] | null;
  hue: [number, number] | null;
}

/** torchvision ColorJitter's `_check_input`: v -> [max(0, 1 - v), 1 + v]; hue h -> [-h, h]. */
export function colorJitterRanges(brightness: number, contrast: number, saturation: number, hue = 0): ColorJitterRanges {
  const around1 = (v: number, name: string): [number, number] | null => {
    if (!(v >= 0)) throw new Error(`color jitter ${name} must be non-negative, got ${v}`);
    const r: [number, number] = [Math.max(0, 1 - v), 1 + v];
    return r[0] === 1 && r[1] === 1 ? null : r;
  };
  if (!(hue >= 0 && hue <= 0.5)) throw new Error(`color jitter hue must be in [0, 0.5], got ${hue}`);
  return {
    brightness: around1(brightness, 'brightness'),
    contrast: around1(contrast, 'contrast'),
    saturation: around1(saturation, 'saturation'),
    hue: hue === 0 ? null : [-hue, hue],
  };
}

/**
 * ColorJitter.forward: a random order of the four adjustments and a uniform factor for each
 * enabled one (drawn from `rng` in the order brightness, contrast, saturation, hue).
 */
export function colorJitter(rgb: Uint8Array, ranges: ColorJitterRanges, rng: Rng): void {
  const order = rng.permutation(4);
  const draw = (r: [number, number] | null): number | null => (r === null ? null : rng.uniform(r[0], r[1]));
  const b = draw(ranges.brightness);
  const c = draw(ranges.contrast);
  const s = draw(ranges.saturation);
  const h = draw(ranges.hue);
  for (const id of order) {
    if (id === 0 && b !== null) adjustBrightness(rgb, b);
    else if (id === 1 && c !== null) adjustContrast(rgb, c);
    else if (id === 2 && s !== null) adjustSaturation(rgb, s);
    else if (id === 3 && h !== null) adjustHue(rgb, h);
  }
}
