/**
 * Image decoding with sharp (libvips, libpng, libjpeg-turbo) into the mode PIL's
 * `Image.open(file)` gives: L / LA / RGB / RGBA / P / '1' / 'I' (16-bit grey), 16-bit colour
 * reduced to its high byte, transparency chunks of non-alpha PNGs ignored, embedded ICC
 * profiles and EXIF orientation not applied (PIL applies neither).
 */
import sharp from 'sharp';
import { imageAddon, JPEG_DECODED, nativeImageStatus, type ImageKernels } from './native.js';
import { makePilImage, modeChannels, type PilImage, type PilMode } from './pil-image.js';

/** PIL raises DecompressionBombError above twice Image.MAX_IMAGE_PIXELS (1024^3 / 4 / 3). */
const PIL_MAX_PIXELS = 2 * Math.floor((1024 * 1024 * 1024) / 4 / 3);

export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp' | 'other';

interface Sniffed {
  format: ImageFormat;
  /** The PIL mode when the header determines it. */
  mode?: PilMode;
  bitDepth?: number;
  palette?: Uint8Array;
  /** Size from the header (JPEG frame header only). */
  width?: number;
  height?: number;
}

const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function ascii(b: Uint8Array, at: number, n: number): string {
  return String.fromCharCode(...b.subarray(at, at + n));
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

/** Reads the PNG IHDR (bit depth, colour type) and PLTE chunks. */
function sniffPng(b: Uint8Array, source: string): Sniffed {
  if (b.length < 33 || ascii(b, 12, 4) !== 'IHDR') throw new Error(`${source}: truncated or corrupt PNG header`);
  const bitDepth = b[24];
  const colorType = b[25];
  let palette: Uint8Array | undefined;
  for (let at = 8; at + 8 <= b.length; ) {
    const len = readU32(b, at);
    const type = ascii(b, at + 4, 4);
    if (type === 'PLTE') {
      palette = b.slice(at + 8, Math.min(b.length, at + 8 + len));
      break;
    }
    if (type === 'IDAT' || type === 'IEND') break;
    at += 12 + len;
  }
  let mode: PilMode;
  switch (colorType) {
    case 0:
      mode = bitDepth === 1 ? '1' : bitDepth === 16 ? 'I' : 'L';
      break;
    case 2:
      mode = 'RGB';
      break;
    case 3:
      mode = 'P';
      break;
    case 4:
      mode = 'LA';
      break;
    case 6:
      mode = 'RGBA';
      break;
    default:
      throw new Error(`${source}: unsupported PNG colour type ${colorType}`);
  }
  return { format: 'png', mode, bitDepth, palette };
}

function sniffGif(b: Uint8Array): Sniffed {
  const flags = b[10];
  let palette: Uint8Array | undefined;
  if (flags & 0x80) {
    const entries = 1 << ((flags & 7) + 1);
    palette = b.slice(13, Math.min(b.length, 13 + entries * 3));
  }
  return { format: 'gif', mode: 'P', palette };
}

/** Component count from the JPEG frame header: 1 is PIL mode L, 3 is RGB (4, CMYK, is left to libvips). */
function sniffJpeg(b: Uint8Array): Sniffed {
  for (let at = 2; at + 10 < b.length; ) {
    if (b[at] !== 0xff) break;
    const marker = b[at + 1];
    if (marker === 0xff) {
      at++;
      continue;
    }
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      const mode = b[at + 9] === 1 ? 'L' : b[at + 9] === 3 ? 'RGB' : undefined;
      return { format: 'jpeg', mode, height: (b[at + 5] << 8) | b[at + 6], width: (b[at + 7] << 8) | b[at + 8] };
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      at += 2;
      continue;
    }
    at += 2 + ((b[at + 2] << 8) | b[at + 3]);
  }
  return { format: 'jpeg' };
}

function sniff(b: Uint8Array, source: string): Sniffed {
  if (b.length >= 8 && PNG_SIG.every((v, i) => b[i] === v)) return sniffPng(b, source);
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return sniffJpeg(b);
  if (b.length >= 13 && (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a')) return sniffGif(b);
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP') return { format: 'webp' };
  return { format: 'other' };
}

function modeFromChannels(channels: number): PilMode {
  switch (channels) {
    case 1:
      return 'L';
    case 2:
      return 'LA';
    case 3:
      return 'RGB';
    default:
      return 'RGBA';
  }
}

/** Picks the bands PIL keeps from sharp's output (which adds alpha for tRNS and may expand grey). */
function selectBands(
  raw: Uint8Array | Uint16Array, n: number, inCh: number, mode: PilMode, shift: number,
): Uint8Array | Int32Array {
  const outCh = modeChannels(mode);
  if (mode === 'I') {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = raw[i * inCh];
    return out;
  }
  // Source band for each output band.
  let map: number[];
  const hasAlphaIn = inCh === 2 || inCh === 4;
  if (outCh === 1) map = [0];
  else if (outCh === 2) map = [0, hasAlphaIn ? inCh - 1 : -1];
  else if (outCh === 3) map = inCh >= 3 ? [0, 1, 2] : [0, 0, 0];
  else map = inCh >= 3 ? [0, 1, 2, hasAlphaIn ? 3 : -1] : [0, 0, 0, hasAlphaIn ? 1 : -1];
  const out = new Uint8Array(n * outCh);
  if (inCh === outCh && shift === 0 && map.every((m, i) => m === i)) {
    out.set(raw as Uint8Array);
    return out;
  }
  for (let i = 0, o = 0; i < n; i++) {
    const p = i * inCh;
    for (let c = 0; c < outCh; c++) {
      const m = map[c];
      out[o++] = m < 0 ? 255 : raw[p + m] >> shift;
    }
  }
  return out;
}

/**
 * Decodes an 8-bit greyscale or YCbCr/RGB JPEG with `@openclip/data-native` (libjpeg-turbo, as
 * Pillow), into memory from `alloc(bytes)` (a caller's reusable buffer: the image then lives there
 * until its next use) or into new memory. Null when the addon cannot (no addon or no libjpeg, another
 * colour space, a corrupt or truncated file, a size beyond PIL's limit): the caller then decodes
 * with sharp, which also gives the errors for bad files.
 */
export function decodeJpegNative(bytes: Uint8Array, kernels: ImageKernels = 'auto', alloc?: (n: number) => Uint8Array): PilImage | null {
  if (kernels === 'js' || bytes.length < 3 || bytes[0] !== 0xff || bytes[1] !== 0xd8 || bytes[2] !== 0xff) return null;
  const addon = imageAddon(kernels);
  if (!addon || !nativeImageStatus().jpeg) return null;
  return decodeSniffedJpeg(bytes, sniffJpeg(bytes), alloc);
}

function decodeSniffedJpeg(bytes: Uint8Array, info: Sniffed, alloc?: (n: number) => Uint8Array): PilImage | null {
  const addon = nativeImageStatus().addon;
  const { mode, width, height } = info;
  if (!addon || (mode !== 'L' && mode !== 'RGB') || !width || !height || width * height > PIL_MAX_PIXELS) return null;
  const channels = mode === 'L' ? 1 : 3;
  const n = width * height * channels;
  const dst = alloc ? alloc(n) : new Uint8Array(n);
  if (addon.decodeJpeg(bytes, width, height, channels, dst) !== JPEG_DECODED) return null;
  return { mode, width, height, channels, data: dst };
}

/**
 * Decodes image bytes (PNG, JPEG, GIF, WebP, or anything else libvips reads) into the PIL
 * mode `Image.open` would give. `source` names the file in errors. JPEGs go through
 * `@openclip/data-native` when it is built with libjpeg (`kernels` 'auto' or 'native'; the same
 * pixels as sharp and PIL), everything else and every file it declines through sharp.
 */
export async function decodeImage(bytes: Uint8Array, source = '<buffer>', kernels: ImageKernels = 'auto'): Promise<PilImage> {
  if (!bytes || bytes.length === 0) throw new Error(`cannot decode image ${source}: empty file`);
  const info = sniff(bytes, source);
  if (info.format === 'jpeg' && kernels !== 'js' && imageAddon(kernels) && nativeImageStatus().jpeg) {
    const img = decodeSniffedJpeg(bytes, info);
    if (img) return img;
  }
  let raw: Buffer;
  let width: number;
  let height: number;
  let channels: number;
  let depthBits = 8;
  try {
    // 16-bit grey PNG is PIL mode 'I' (full values). Other 16-bit images: libvips' 8-bit
    // conversion keeps the high byte, which is what PIL's "RGB;16B" / "RGBA;16B" unpacking does.
    const wide = info.mode === 'I';
    let img = sharp(bytes, { ignoreIcc: true, failOn: 'truncated', autoOrient: false, limitInputPixels: PIL_MAX_PIXELS });
    if (wide) img = img.toColourspace('grey16');
    const res = await img.raw(wide ? { depth: 'ushort' } : {}).toBuffer({ resolveWithObject: true });
    raw = res.data;
    ({ width, height, channels } = res.info);
    const bytesPerSample = raw.length / (width * height * channels);
    if (bytesPerSample === 2) depthBits = 16;
    else if (bytesPerSample !== 1) throw new Error(`unsupported sample size of ${bytesPerSample} bytes`);
  } catch (err) {
    throw new Error(`cannot decode image ${source}: ${(err as Error).message}`);
  }
  const mode: PilMode = info.mode ?? (info.format === 'webp' ? (channels === 4 ? 'RGBA' : 'RGB') : modeFromChannels(channels));
  const n = width * height;
  const samples = depthBits === 16
    ? new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength >> 1)
    : new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  if (samples.length !== n * channels) {
    throw new Error(`cannot decode image ${source}: decoder returned ${samples.length} samples for ${width}x${height}x${channels}`);
  }
  const data = selectBands(samples, n, channels, mode, depthBits === 16 && mode !== 'I' ? 8 : 0);
  return makePilImage(mode, width, height, data, mode === 'P' ? info.palette : undefined);
}
