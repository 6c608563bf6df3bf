/**
 * A procedural stand-in for OpenCLIP's `SyntheticDataset` (which repeats one blank image and a dummy
 * caption): coloured shapes on a light textured background, each with a caption ("a photo of a red
 * circle") and a class label, fully determined by (seed, index), so training and zero-shot evaluation can
 * be demonstrated without a download.
 */
import type { Rng } from '@openclip/engine/rng';
import { deriveRng } from '../derive-rng.js';

export const SYNTHETIC_SHAPES = ['circle', 'square', 'triangle', 'diamond', 'star', 'cross'] as const;
export const SYNTHETIC_COLORS = ['red', 'green', 'blue', 'yellow', 'purple', 'orange'] as const;

/** Base colour of each colour name (each image varies it by up to ±15 per channel). */
export const SYNTHETIC_RGB: Record<(typeof SYNTHETIC_COLORS)[number], [number, number, number]> = {
  red: [215, 35, 35],
  green: [35, 160, 55],
  blue: [35, 75, 215],
  yellow: [235, 205, 30],
  purple: [135, 50, 175],
  orange: [245, 135, 25],
};

/** Class names `"<colour> <shape>"`, sorted, so label i is `SYNTHETIC_CLASSNAMES[i]` and image-folder class folders sort the same way. */
export const SYNTHETIC_CLASSNAMES: readonly string[] = SYNTHETIC_COLORS.flatMap((c) => SYNTHETIC_SHAPES.map((s) => `${c} ${s}`)).sort();

/** Caption templates; `{}` is the class name with its article ("a red circle", "an orange star"). */
export const SYNTHETIC_TEMPLATES = ['a photo of {}', '{}', 'a drawing of {}', 'a picture of {}', 'an image of {}', 'a rendering of {}'] as const;

export function withArticle(name: string): string {
  return (/^[aeiou]/.test(name) ? 'an ' : 'a ') + name;
}

export interface SyntheticSpec {
  shape: (typeof SYNTHETIC_SHAPES)[number];
  color: (typeof SYNTHETIC_COLORS)[number];
  label: number;
  caption: string;
  className: string;
}

export interface SyntheticImage extends SyntheticSpec {
  /** RGB bytes, row-major `[size, size, 3]`. */
  pixels: Uint8Array;
  size: number;
}

type Poly = [number, number][];

function regular(n: number, phase: number, radii: number[]): Poly {
  const pts: Poly = [];
  for (let i = 0; i < n; i++) {
    const a = phase + (2 * Math.PI * i) / n;
    const r = radii[i % radii.length];
    pts.push([r * Math.cos(a), r * Math.sin(a)]);
  }
  return pts;
}

// Shapes in unit coordinates (y grows downwards, so -pi/2 points up).
const POLYS: Partial<Record<(typeof SYNTHETIC_SHAPES)[number], Poly>> = {
  square: [[-0.8, -0.8], [0.8, -0.8], [0.8, 0.8], [-0.8, 0.8]],
  triangle: regular(3, -Math.PI / 2, [1]),
  diamond: [[0, -1], [0.72, 0], [0, 1], [-0.72, 0]],
  star: regular(10, -Math.PI / 2, [1, 0.42]),
};

function inPolygon(x: number, y: number, poly: Poly): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Whether point (u, v) in unit shape coordinates (y down, before rotation) is inside the shape. */
export function inShape(shape: (typeof SYNTHETIC_SHAPES)[number], u: number, v: number): boolean {
  if (shape === 'circle') return u * u + v * v <= 1;
  if (shape === 'cross') return (Math.abs(u) <= 0.3 && Math.abs(v) <= 1) || (Math.abs(v) <= 0.3 && Math.abs(u) <= 1);
  return inPolygon(u, v, POLYS[shape]!);
}

/** The class, caption and drawing parameters of sample `index` (cheap: no pixels). */
export function syntheticSpec(seed: number, index: number): SyntheticSpec & { rng: Rng } {
  if (!Number.isSafeInteger(index) || index < 0) throw new Error(`synthetic sample index must be a non-negative integer, got ${index}`);
  const n = SYNTHETIC_CLASSNAMES.length;
  // Classes are balanced: every block of n consecutive samples holds each class once, in a seeded order.
  const block = deriveRng(seed, 1, Math.floor(index / n)).permutation(n);
  const className = SYNTHETIC_CLASSNAMES[block[index % n]];
  const [color, shape] = className.split(' ') as [(typeof SYNTHETIC_COLORS)[number], (typeof SYNTHETIC_SHAPES)[number]];
  const rng = deriveRng(seed, 2, index);
  const template = SYNTHETIC_TEMPLATES[rng.randint(SYNTHETIC_TEMPLATES.length)];
  return { shape, color, className, label: SYNTHETIC_CLASSNAMES.indexOf(className), caption: template.replace('{}', withArticle(className)), rng };
}

/** Every shape lies within this distance of its centre in unit coordinates (the square's corner, 0.8·√2 ≈ 1.13, is the farthest). */
const SHAPE_RADIUS_SQ = 1.2 * 1.2;

const POLY_COORDS: Partial<Record<(typeof SYNTHETIC_SHAPES)[number], Float64Array>> = Object.fromEntries(
  Object.entries(POLYS).map(([k, poly]) => [k, Float64Array.from(poly.flat())]),
);

/** `inShape` specialised per shape (the same comparisons on the same numbers, without the per-call dispatch). */
function shapeTest(shape: (typeof SYNTHETIC_SHAPES)[number]): (u: number, v: number) => boolean {
  if (shape === 'circle' || shape === 'cross') return (u, v) => inShape(shape, u, v);
  const p = POLY_COORDS[shape]!;
  const n = p.length / 2;
  return (x, y) => {
    let inside = false;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const xi = p[2 * i];
      const yi = p[2 * i + 1];
      const xj = p[2 * j];
      const yj = p[2 * j + 1];
      if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  };
}

/**
 * Draws sample `index` of the synthetic set at `size` x `size` pixels (2x2 supersampled edges).
 * Each pixel is background blended with the shape's colour by the fraction of its four sub-samples
 * inside the shape, plus per-pixel noise; sub-samples beyond the shape's radius are not tested.
 */
export function renderSynthetic(seed: number, index: number, size: number): SyntheticImage {
  if (!Number.isInteger(size) || size < 8) throw new Error(`synthetic image size must be an integer >= 8, got ${size}`);
  const { rng, ...spec } = syntheticSpec(seed, index);
  const base = 205 + rng.randint(40);
  const bg = [0, 1, 2].map(() => Math.min(255, base + rng.randint(21) - 10));
  const fg = SYNTHETIC_RGB[spec.color].map((c) => Math.max(0, Math.min(255, c + rng.randint(31) - 15)));
  const r = size * rng.uniform(0.17, 0.3);
  const cx = size * rng.uniform(0.25, 0.75);
  const cy = size * rng.uniform(0.25, 0.75);
  const angle = spec.shape === 'circle' ? 0 : rng.uniform(-0.26, 0.26);
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const inside = shapeTest(spec.shape);
  // blend[hits * 3 + c]: the colour of a pixel with `hits` of 4 sub-samples inside, before noise
  const blend = new Float64Array(15);
  for (let hits = 0; hits <= 4; hits++) {
    const a = hits / 4;
    for (let c = 0; c < 3; c++) blend[hits * 3 + c] = Math.round(bg[c] * (1 - a) + fg[c] * a);
  }
  // sub-sample offsets in shape units: columns (x + 0.25, x + 0.75) and the same for rows
  const sub = [0.25, 0.75];
  const dxs = new Float64Array(2 * size);
  for (let x = 0; x < size; x++) for (let k = 0; k < 2; k++) dxs[2 * x + k] = (x + sub[k] - cx) / r;
  const pixels = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    const dy0 = (y + sub[0] - cy) / r;
    const dy1 = (y + sub[1] - cy) / r;
    for (let x = 0; x < size; x++) {
      let hits = 0;
      for (let k = 0; k < 4; k++) {
        const dy = k < 2 ? dy0 : dy1;
        const dx = dxs[2 * x + (k & 1)];
        if (dx * dx + dy * dy > SHAPE_RADIUS_SQ) continue;
        if (inside(cos * dx + sin * dy, -sin * dx + cos * dy)) hits++;
      }
      const noise = rng.randint(9) - 4;
      const o = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) {
        const v = blend[hits * 3 + c] + noise;
        pixels[o + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  return { ...spec, pixels, size };
}

export type SyntheticImageFormat = 'jpg' | 'png';

/** Sample `index` encoded as JPEG (quality 90) or PNG with sharp, so it goes through the normal decode path. */
export async function encodeSynthetic(seed: number, index: number, size: number, format: SyntheticImageFormat = 'jpg'): Promise<SyntheticSpec & { bytes: Uint8Array }> {
  const { default: sharp } = await import('sharp');
  const img = renderSynthetic(seed, index, size);
  const s = sharp(img.pixels, { raw: { width: size, height: size, channels: 3 } });
  const buf = format === 'png' ? await s.png().toBuffer() : await s.jpeg({ quality: 90 }).toBuffer();
  const { pixels: _p, size: _s, ...spec } = img;
  return { ...spec, bytes: new Uint8Array(buf.buffer, buf.byteOffset, buf.length) };
}
