/**
 * A decoded image in its PIL mode, as `PIL.Image.open(file)` holds it before OpenCLIP's
 * `_convert_to_rgb` (which runs after resize and crop), and PIL's `convert('RGB')`.
 */

/**
 * PIL modes this package reproduces. 'P' pixels are stored already expanded to RGB (the
 * palette is kept for padding by index); '1' is stored as 0/255 bytes; 'I' (16-bit grey PNG)
 * holds Int32 values.
 */
export type PilMode = '1' | 'L' | 'LA' | 'I' | 'P' | 'RGB' | 'RGBA';

export interface PilImage {
  mode: PilMode;
  width: number;
  height: number;
  /** Interleaved bands per pixel: 1 ('1', 'L', 'I'), 2 ('LA'), 3 ('RGB', 'P'), 4 ('RGBA'). */
  channels: number;
  /** Row-major interleaved pixels; Int32Array only for mode 'I'. */
  data: Uint8Array | Int32Array;
  /** Mode 'P': the palette as RGB triplets (padding fills palette index `fill_color`). */
  palette?: Uint8Array;
}

const CHANNELS: Record<PilMode, number> = { '1': 1, L: 1, LA: 2, I: 1, P: 3, RGB: 3, RGBA: 4 };

export function modeChannels(mode: PilMode): number {
  return CHANNELS[mode];
}

/** Checks the buffer length against mode and size. */
export function makePilImage(mode: PilMode, width: number, height: number, data: Uint8Array | Int32Array, palette?: Uint8Array): PilImage {
  const channels = CHANNELS[mode];
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Error(`image size must be positive integers, got ${width}x${height}`);
  }
  if (data.length !== width * height * channels) {
    throw new Error(`mode ${mode} ${width}x${height} image needs ${width * height * channels} values, got ${data.length}`);
  }
  if ((mode === 'I') !== data instanceof Int32Array) {
    throw new Error(`mode ${mode} image data must be ${mode === 'I' ? 'an Int32Array' : 'a Uint8Array'}`);
  }
  return palette ? { mode, width, height, channels, data, palette } : { mode, width, height, channels, data };
}

/**
 * The per-band pixel value padding writes for `fill` (torchvision pads PIL images with the
 * fill replicated on every band; a palette image gets palette entry `fill`).
 */
export function fillPixel(img: PilImage, fill: number): number[] {
  if (img.mode === 'P') {
    const p = img.palette;
    const i = fill * 3;
    return p && i + 2 < p.length ? [p[i], p[i + 1], p[i + 2]] : [0, 0, 0];
  }
  return new Array<number>(img.channels).fill(fill);
}

/** PIL `convert('RGB')`: grey replicated, alpha dropped (not composited), 'I' clipped to 0..255. */
export function convertToRgb(img: PilImage): Uint8Array {
  const n = img.width * img.height;
  const { data } = img;
  if (img.mode === 'RGB' || img.mode === 'P') return data as Uint8Array;
  const out = new Uint8Array(n * 3);
  switch (img.mode) {
    case '1':
    case 'L':
      for (let i = 0, o = 0; i < n; i++) {
        const v = data[i];
        out[o++] = v;
        out[o++] = v;
        out[o++] = v;
      }
      break;
    case 'I':
      for (let i = 0, o = 0; i < n; i++) {
        const d = data[i];
        const v = d < 0 ? 0 : d > 255 ? 255 : d;
        out[o++] = v;
        out[o++] = v;
        out[o++] = v;
      }
      break;
    case 'LA':
      for (let i = 0, o = 0; i < n; i++) {
        const v = data[i * 2];
        out[o++] = v;
        out[o++] = v;
        out[o++] = v;
      }
      break;
    case 'RGBA':
      for (let i = 0, o = 0; i < n; i++) {
        out[o++] = data[i * 4];
        out[o++] = data[i * 4 + 1];
        out[o++] = data[i * 4 + 2];
      }
      break;
  }
  return out;
}
