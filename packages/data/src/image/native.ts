/**
 * The optional native addon `@openclip/data-native` (packages/data/native, built with g++ at npm
 * install): JPEG decoding with the system libjpeg-turbo (the library Pillow decodes with), and C++
 * versions of this package's Pillow resampler and ToTensor/Normalize lookup that give the same bytes
 * and floats as the TypeScript code. Every function here has a TypeScript twin, used when the addon
 * is missing, when `OPENCLIP_DATA_NATIVE=0`, or when a caller asks for `kernels: 'js'`.
 */
import { createRequire } from 'node:module';

/** The addon's functions (packages/data/native/src/openclip_data_native.cc). */
export interface NativeImageAddon {
  info(): { jpeg: string | null; simd: string };
  /** Status: 0 decoded into dst, 1 unsupported (not 8-bit grey / YCbCr / RGB), 2 corrupt or warned, 3 size mismatch. */
  decodeJpeg(bytes: Uint8Array, width: number, height: number, channels: number, dst: Uint8Array): number;
  resample8(
    src: Uint8Array, w: number, h: number, channels: number, outW: number, outH: number,
    left: number, top: number, width: number, height: number,
    hBounds: Int32Array | null, hFixed: Int32Array | null, hKsize: number,
    vBounds: Int32Array | null, vFixed: Int32Array | null, vKsize: number,
    dst: Uint8Array,
  ): number;
  normalize(rgb: Uint8Array, lut: Float32Array, out: Float32Array): number;
  /** Turns the SIMD code off (tests of the portable C++ code) or back on; returns the level in use. */
  setSimd(enabled: boolean): string;
}

export const JPEG_DECODED = 0;

export interface NativeImageStatus {
  addon: NativeImageAddon | null;
  /** JPEG decoding available (the addon was built against libjpeg). */
  jpeg: boolean;
  /** What was loaded, or why not. */
  detail: string;
}

/**
 * Which implementation the image functions use: `auto` (the addon when it loaded, else
 * TypeScript), `native` (the addon, an error when it is missing), `js` (TypeScript).
 */
export type ImageKernels = 'auto' | 'native' | 'js';

let status: NativeImageStatus | null = null;

/** Loads the addon once; never throws (the status says what is missing). */
export function nativeImageStatus(): NativeImageStatus {
  if (status) return status;
  if (process.env.OPENCLIP_DATA_NATIVE === '0') {
    status = { addon: null, jpeg: false, detail: 'disabled by OPENCLIP_DATA_NATIVE=0' };
    return status;
  }
  try {
    const addon = createRequire(import.meta.url)('@openclip/data-native') as NativeImageAddon;
    const info = addon.info();
    status = {
      addon,
      jpeg: info.jpeg !== null,
      detail: `@openclip/data-native (${info.jpeg ?? 'built without libjpeg: JPEG decoding through sharp'}, simd ${info.simd})`,
    };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'MODULE_NOT_FOUND' ? 'addon not built (needs g++ at npm install)' : err.message.split('\n')[0];
    status = { addon: null, jpeg: false, detail: `@openclip/data-native: ${why}` };
  }
  return status;
}

/** Checks a kernels choice (a clear error for an unknown one, or for `native` without the addon). */
export function checkImageKernels(kernels: ImageKernels, what: string): void {
  if (kernels !== 'auto' && kernels !== 'native' && kernels !== 'js') {
    throw new Error(`${what}: kernels must be 'auto', 'native' or 'js', got ${JSON.stringify(kernels)}`);
  }
  if (kernels === 'native' && !nativeImageStatus().addon) {
    throw new Error(`${what}: kernels 'native' needs the @openclip/data-native addon, which is not available (${nativeImageStatus().detail})`);
  }
}

/** The addon for a kernels choice, or null for the TypeScript code. */
export function imageAddon(kernels: ImageKernels = 'auto'): NativeImageAddon | null {
  if (kernels === 'js') return null;
  const s = nativeImageStatus();
  if (kernels === 'native' && !s.addon) checkImageKernels(kernels, 'image kernels');
  return s.addon;
}
