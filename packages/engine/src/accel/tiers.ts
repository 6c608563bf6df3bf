/**
 * Chooses and installs the acceleration tier on top of the chosen TensorFlow.js backend:
 * 'openblas' (wasm + native addon over OpenBLAS) when it loads, else 'none' (the backend's own
 * kernels). The completeness kernels (every kernel a training step needs) go in on every tier.
 */
import { installCompleteKernels } from './complete-kernels.js';
import { installFusedKernels, installAdamW, uninstallFusedKernels } from './fused-kernels.js';
import { loadNative } from './native.js';
import { installNativeKernels, uninstallNativeKernels } from './native-kernels.js';

export const ACCEL_TIERS = ['openblas', 'none'] as const;
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

let nativeInstalled = false;

export function parseAccelRequest(value: string | undefined, source: string): AccelRequest {
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if ((ACCEL_TIERS as readonly string[]).includes(value)) return value as AccelTier;
  throw new Error(`${source}: unknown acceleration tier '${value}' (choose one of: auto, ${ACCEL_TIERS.join(', ')})`);
}

/** Installs the kernels for `backendName`; throws only when a tier was explicitly requested and cannot load. */
export function setupAccel(backendName: string, request: AccelRequest, threads: number): AccelInfo {
  if (backendName === 'cpu') {
    installCompleteKernels('cpu');
    installAdamW('cpu', null);
    if (request === 'openblas') throw new Error("acceleration tier 'openblas' needs the wasm backend");
    return { tier: 'none', detail: 'pure JavaScript kernels (+ scatter-add UnsortedSegmentSum, fused AdamW)' };
  }
  if (backendName !== 'wasm') {
    if (request === 'openblas') throw new Error(`acceleration tier 'openblas' needs the wasm backend, not '${backendName}'`);
    return { tier: 'none', detail: `${backendName} backend's own kernels` };
  }
  installCompleteKernels('wasm');
  if (request !== 'none') {
    const st = loadNative(threads);
    if (st.addon && st.blas) {
      if (!nativeInstalled) {
        installNativeKernels(st.addon);
        installFusedKernels(st.addon);
        nativeInstalled = true;
      }
      return { tier: 'openblas', detail: `${st.detail}, ${threads} thread${threads === 1 ? '' : 's'}`, openblasCoretype: st.coretypeSource };
    }
    if (request === 'openblas') throw new Error(`acceleration tier 'openblas' is not available: ${st.detail}`);
    removeNative();
    return { tier: 'none', detail: `wasm kernels (+ completeness kernels); native tier unavailable: ${st.detail}` };
  }
  removeNative();
  return { tier: 'none', detail: 'wasm kernels (+ completeness kernels); native tier off by request' };
}

function removeNative(): void {
  if (nativeInstalled) {
    uninstallNativeKernels();
    uninstallFusedKernels();
    nativeInstalled = false;
  }
  installCompleteKernels('wasm');
  installAdamW('wasm', null);
}
