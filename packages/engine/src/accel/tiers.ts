/**
 * Chooses and installs the acceleration tier on top of the chosen TensorFlow.js backend:
 * 'openblas' (wasm + native addon over OpenBLAS) when it loads, else 'ort' (the same kernels
 * run by ONNX Runtime from the onnxruntime-node npm package), else 'js' (JavaScript kernels on
 * the wasm heap); 'none' keeps the backend's own kernels. The completeness kernels (every
 * kernel a training step needs) go in on every tier.
 */
import { installCompleteKernels } from './complete-kernels.js';
import { installFusedKernels, installAdamW, uninstallFusedKernels } from './fused-kernels.js';
import { loadNative } from './native.js';
import { installNativeKernels, uninstallNativeKernels } from './native-kernels.js';
import { installJsKernels, uninstallJsKernels } from './js-kernels.js';
import { loadOrt } from './ort.js';

export const ACCEL_TIERS = ['openblas', 'ort', 'js', 'none'] as const;
export type AccelTier = (typeof ACCEL_TIERS)[number];
export type AccelRequest = AccelTier | 'auto';

export interface AccelInfo {
  /** The tier in use on the chosen backend. */
  tier: AccelTier;
  /** What loaded (library, core type, threads) or why the faster tier did not. */
  detail: string;
  /** Where the OpenBLAS core type came from, when OpenBLAS is loaded. */
  openblasCoretype?: string;
}

let installed: AccelTier = 'none';
let installedThreads = 0;

export function parseAccelRequest(value: string | undefined, source: string): AccelRequest {
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if ((ACCEL_TIERS as readonly string[]).includes(value)) return value as AccelTier;
  throw new Error(`${source}: unknown acceleration tier '${value}' (choose one of: auto, ${ACCEL_TIERS.join(', ')})`);
}

/**
 * Installs the kernels for `backendName`. Tiers apply to wasm; on other backends a request is
 * noted, not an error. Throws only when 'openblas' or 'ort' was requested on wasm and cannot load.
 */
export function setupAccel(backendName: string, request: AccelRequest, threads: number): AccelInfo {
  if (backendName === 'cpu') {
    installCompleteKernels('cpu');
    installAdamW('cpu', null);
    const note = request !== 'auto' && request !== 'none' ? ` (tier '${request}' applies to the wasm backend only)` : '';
    return { tier: 'none', detail: `pure JavaScript kernels (+ scatter-add UnsortedSegmentSum, fused AdamW)${note}` };
  }
  if (backendName !== 'wasm') {
    const note = request !== 'auto' && request !== 'none' ? ` (tier '${request}' applies to the wasm backend only)` : '';
    return { tier: 'none', detail: `${backendName} backend's own kernels${note}` };
  }
  installCompleteKernels('wasm');
  let why = 'off by request';
  if (request === 'auto' || request === 'openblas') {
    const st = loadNative(threads);
    if (st.addon && st.blas) {
      if (installed !== 'openblas') {
        reset();
        installNativeKernels(st.addon);
        installFusedKernels(st.addon);
        installed = 'openblas';
      }
      return { tier: 'openblas', detail: `${st.detail}, ${threads} thread${threads === 1 ? '' : 's'}`, openblasCoretype: st.coretypeSource };
    }
    if (request === 'openblas') throw new Error(`acceleration tier 'openblas' is not available: ${st.detail}`);
    why = `native tier unavailable: ${st.detail}`;
  }
  if (request === 'auto' || request === 'ort') {
    const st = loadOrt(threads);
    if (st.addon) {
      if (installed !== 'ort' || installedThreads !== threads) {
        reset();
        installNativeKernels(st.addon);
        installFusedKernels(st.addon);
        installed = 'ort';
        installedThreads = threads;
      }
      return { tier: 'ort', detail: `${st.detail}, ${threads} thread${threads === 1 ? '' : 's'}; ${why}` };
    }
    if (request === 'ort') throw new Error(`acceleration tier 'ort' is not available: ${st.detail}`);
    why = `${why}; ort tier unavailable: ${st.detail}`;
  }
  if (request === 'auto' || request === 'js') {
    if (installed !== 'js') {
      reset();
      installJsKernels();
      installed = 'js';
    }
    return { tier: 'js', detail: `JavaScript kernels on the wasm heap (XNNPACK-steered matmuls, fused AdamW); ${why}` };
  }
  if (installed !== 'none') reset();
  return { tier: 'none', detail: `wasm's own kernels (+ completeness kernels); ${why}` };
}

/** Back to wasm's own kernels plus the completeness kernels. */
function reset(): void {
  uninstallNativeKernels();
  uninstallFusedKernels();
  uninstallJsKernels();
  installed = 'none';
  installCompleteKernels('wasm');
  installAdamW('wasm', null);
}

/** The tiers that can run on the wasm backend here, slowest first (loads nothing twice). */
export function availableTiers(threads: number): AccelTier[] {
  const tiers: AccelTier[] = ['none', 'js'];
  if (loadOrt(threads).addon) tiers.push('ort');
  if (loadNative(threads).blas) tiers.push('openblas');
  return tiers;
}
