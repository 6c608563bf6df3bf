/**
 * Chooses and installs the acceleration tier on top of the chosen TensorFlow.js backend:
 * 'openblas' (wasm + native addon over OpenBLAS) when it loads, else 'ort' (the same kernels
 * run by ONNX Runtime from the onnxruntime-node npm package), else 'js' (JavaScript kernels on
 * the wasm heap); 'none' keeps the backend's own kernels. The completeness kernels (every
 * kernel a training step needs) go in on every tier.
 */
import { installCompleteKernels } from './complete-kernels.js';
import { adamwJs, installFusedKernels, installAdamW, setInPlaceAdamW, uninstallFusedKernels } from './fused-kernels.js';
import { loadNative } from './native.js';
import { installNativeKernels, uninstallNativeKernels } from './native-kernels.js';
import { installFusedAttention, uninstallFusedAttention } from './fused-attention.js';
import { installFusedHeads, uninstallFusedHeads } from './fused-heads.js';
import { installSegmentKernels, uninstallSegmentKernels } from './native-segment.js';
import { installUnaryKernels, uninstallUnaryKernels } from './native-unary.js';
import { installJsKernels, uninstallJsKernels } from './js-kernels.js';
import { loadOrt } from './ort.js';
import type { NativeAddon } from './native.js';
import { NATIVE_BACKEND } from './native-backend.js';
import { installElementwiseKernels, uninstallElementwiseKernels } from './native-elementwise.js';
import { installConvKernels, installDepthwiseKernels, uninstallConvKernels, uninstallDepthwiseKernels } from './native-conv.js';
import { installBatchNormKernels, uninstallBatchNormKernels } from './batch-norm-kernels.js';
import { installGroupedConvKernels, uninstallGroupedConvKernels } from './grouped-conv.js';

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

/** The tier installed on each backend (and the thread count it was installed for). */
const installed = new Map<string, { tier: AccelTier; threads: number }>();

export function parseAccelRequest(value: string | undefined, source: string): AccelRequest {
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if ((ACCEL_TIERS as readonly string[]).includes(value)) return value as AccelTier;
  throw new Error(`${source}: unknown acceleration tier '${value}' (choose one of: auto, ${ACCEL_TIERS.join(', ')})`);
}

/** The tiers the `native` backend runs on: its kernels need native code. */
export const NATIVE_BACKEND_TIERS = ['openblas', 'ort'] as const;

/**
 * Whether the `native` backend can run for this request: null when it can, else why not
 * (the addon and onnxruntime-node are both missing, or a wasm-only tier was asked for).
 */
export function nativeBackendUnavailable(request: AccelRequest, threads: number): string | null {
  if (request === 'js' || request === 'none') return `tier '${request}' runs on the wasm backend only`;
  const why: string[] = [];
  if (request === 'auto' || request === 'openblas') {
    const st = loadNative(threads);
    if (st.addon && st.blas) return null;
    why.push(`openblas: ${st.detail}`);
  }
  if (request === 'auto' || request === 'ort') {
    const st = loadOrt(threads);
    if (st.addon) return null;
    why.push(`ort: ${st.detail}`);
  }
  return why.join('; ');
}

/** Installs a native-code tier ('openblas' or 'ort') on a backend, replacing whatever was there. */
function installNativeTier(backendName: string, tier: 'openblas' | 'ort', addon: NativeAddon, threads: number): void {
  const cur = installed.get(backendName);
  if (cur && cur.tier === tier && cur.threads === threads) return;
  reset(backendName);
  installNativeKernels(addon, backendName);
  installFusedKernels(addon, backendName);
  installFusedAttention(addon, backendName);
  installFusedHeads(backendName);
  installDepthwiseKernels(backendName, addon);
  installGroupedConvKernels(backendName, addon);
  if (backendName === NATIVE_BACKEND) {
    installElementwiseKernels(addon, backendName);
    installConvKernels(backendName, addon);
    installBatchNormKernels(backendName, addon);
    installSegmentKernels(backendName);
    installUnaryKernels(backendName, addon);
    // the addon's loop tolerates outputs aliasing inputs; ONNX Runtime's graph is not relied on for that
    setInPlaceAdamW(backendName, tier === 'openblas' ? addon.adamw : adamwJs);
  }
  installed.set(backendName, { tier, threads });
}

/**
 * Installs the kernels for `backendName`. Tiers apply to `native` (openblas, ort) and `wasm`
 * (openblas, ort, js, none); on other backends a request is noted, not an error. Throws when a
 * tier asked for by name cannot load.
 */
export function setupAccel(backendName: string, request: AccelRequest, threads: number): AccelInfo {
  if (backendName === 'cpu') {
    installCompleteKernels('cpu');
    installAdamW('cpu', null);
    const note = request !== 'auto' && request !== 'none' ? ` (tier '${request}' applies to the native and wasm backends only)` : '';
    return { tier: 'none', detail: `pure JavaScript kernels (+ scatter-add UnsortedSegmentSum, fused AdamW)${note}` };
  }
  if (backendName !== 'wasm' && backendName !== NATIVE_BACKEND) {
    const note = request !== 'auto' && request !== 'none' ? ` (tier '${request}' applies to the native and wasm backends only)` : '';
    return { tier: 'none', detail: `${backendName} backend's own kernels${note}` };
  }
  const onNative = backendName === NATIVE_BACKEND;
  const where = onNative ? 'tensors in process memory' : 'tensors on the wasm heap';
  // (an installed tier already has them, and some of its kernels replace them: leave those be)
  if (!installed.has(backendName)) installCompleteKernels(backendName);
  if (onNative && (request === 'js' || request === 'none')) {
    throw new Error(`acceleration tier '${request}' runs on the wasm backend only (--backend wasm)`);
  }
  let why = 'off by request';
  if (request === 'auto' || request === 'openblas') {
    const st = loadNative(threads);
    if (st.addon && st.blas) {
      installNativeTier(backendName, 'openblas', st.addon, threads);
      return { tier: 'openblas', detail: `${st.detail}, ${threads} thread${threads === 1 ? '' : 's'}; ${where}`, openblasCoretype: st.coretypeSource };
    }
    if (request === 'openblas') throw new Error(`acceleration tier 'openblas' is not available: ${st.detail}`);
    why = `native tier unavailable: ${st.detail}`;
  }
  if (request === 'auto' || request === 'ort') {
    const st = loadOrt(threads);
    if (st.addon) {
      installNativeTier(backendName, 'ort', st.addon, threads);
      return { tier: 'ort', detail: `${st.detail}, ${threads} thread${threads === 1 ? '' : 's'}; ${where}; ${why}` };
    }
    if (request === 'ort') throw new Error(`acceleration tier 'ort' is not available: ${st.detail}`);
    why = `${why}; ort tier unavailable: ${st.detail}`;
  }
  if (onNative) throw new Error(`the native backend needs the openblas or ort tier: ${why}`);
  if (request === 'auto' || request === 'js') {
    if (installed.get(backendName)?.tier !== 'js') {
      reset(backendName);
      installJsKernels();
      installed.set(backendName, { tier: 'js', threads });
    }
    return { tier: 'js', detail: `JavaScript kernels on the wasm heap (XNNPACK-steered matmuls, fused AdamW); ${why}` };
  }
  if (installed.get(backendName)) reset(backendName);
  return { tier: 'none', detail: `wasm's own kernels (+ completeness kernels); ${why}` };
}

/** Back to the backend's own kernels plus the completeness kernels. */
function reset(backendName: string): void {
  uninstallNativeKernels(backendName);
  uninstallFusedKernels(backendName);
  uninstallFusedAttention(backendName);
  uninstallFusedHeads(backendName);
  uninstallSegmentKernels(backendName);
  uninstallUnaryKernels(backendName);
  uninstallElementwiseKernels(backendName);
  uninstallConvKernels(backendName);
  uninstallDepthwiseKernels(backendName);
  uninstallGroupedConvKernels(backendName);
  uninstallBatchNormKernels(backendName);
  setInPlaceAdamW(backendName, null);
  if (backendName === 'wasm') uninstallJsKernels();
  installed.delete(backendName);
  installCompleteKernels(backendName);
  installAdamW(backendName, null);
}

/** The tiers that can run on the wasm backend here, slowest first (loads nothing twice). */
export function availableTiers(threads: number): AccelTier[] {
  const tiers: AccelTier[] = ['none', 'js'];
  if (loadOrt(threads).addon) tiers.push('ort');
  if (loadNative(threads).blas) tiers.push('openblas');
  return tiers;
}
