/**
 * Loads the optional native addon (@openclip/engine-native) and, through it, OpenBLAS, plus
 * oneDNN's sgemm when that library is installed (Debian: libdnnl2, which python3-torch pulls
 * in); matrix products then go to oneDNN, whose kernels use AVX-512 where the CPU has it.
 * OPENCLIP_GEMM=openblas keeps them on OpenBLAS; OPENCLIP_GEMM=onednn insists on oneDNN. The
 * OpenBLAS core type is left alone when the environment sets OPENBLAS_CORETYPE (or
 * OPENBLAS_L2_SIZE); only when both are unset and /proc/cpuinfo proves the instruction set is
 * a core type chosen, because Debian's OpenBLAS 0.3.21 mis-detects recent Xeons as "Prescott".
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

export interface NativeAddon {
  blasInit(candidates: string[]): { ok: boolean; lib?: string; corename?: string; config?: string; error?: string };
  setThreads(n: number): number;
  sgemm(ta: boolean, tb: boolean, batch: number, M: number, N: number, K: number, A: Float32Array, strideA: number,
    B: Float32Array, strideB: number, C: Float32Array, strideC: number, bias: Float32Array | null): void;
  transpose(x: Float32Array | Int32Array, shape: number[], perm: number[], y: Float32Array | Int32Array): void;
  reduceSum(x: Float32Array, shape: number[], axes: number[], y: Float32Array): void;
  exp(x: Float32Array, y: Float32Array): void;
  erf(x: Float32Array, y: Float32Array): void;
  geluFwd(x: Float32Array, y: Float32Array): void;
  geluBwd(dy: Float32Array, x: Float32Array, dx: Float32Array): void;
  layerNormFwd(x: Float32Array, gamma: Float32Array | null, beta: Float32Array | null, rows: number, cols: number, eps: number,
    y: Float32Array, mean: Float32Array, rstd: Float32Array): void;
  layerNormBwd(dy: Float32Array, x: Float32Array, mean: Float32Array, rstd: Float32Array, gamma: Float32Array | null, rows: number,
    cols: number, dx: Float32Array, dgamma: Float32Array | null, dbeta: Float32Array | null): void;
  adamw(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, pOut: Float32Array, mOut: Float32Array, vOut: Float32Array,
    lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number): void;
  /**
   * NHWC convolutions with a [KH, KW, CI, CO] filter; geometry is [N, H, W, CI, OH, OW, CO, KH,
   * KW, strideH, strideW, padTop, padLeft]. Only the compiled addon has them (not the ort tier).
   */
  conv2dForward?(x: Float32Array, filter: Float32Array, geometry: Int32Array, y: Float32Array): void;
  conv2dBackpropInput?(dy: Float32Array, filter: Float32Array, geometry: Int32Array, dx: Float32Array): void;
  conv2dBackpropFilter?(x: Float32Array, dy: Float32Array, geometry: Int32Array, dw: Float32Array): void;
  /**
   * NHWC depthwise convolutions with a [KH, KW, C, M] filter (output channel c·M + m reads input
   * channel c); geometry is [N, H, W, C, OH, OW, M, KH, KW, strideH, strideW, padTop, padLeft].
   * Compiled addon only.
   */
  depthwiseConv2dForward?(x: Float32Array, filter: Float32Array, geometry: Int32Array, y: Float32Array): void;
  depthwiseConv2dBackpropInput?(dy: Float32Array, filter: Float32Array, geometry: Int32Array, dx: Float32Array): void;
  depthwiseConv2dBackpropFilter?(x: Float32Array, dy: Float32Array, geometry: Int32Array, df: Float32Array): void;
  /** Training-mode batch norm over the last axis of [rows, C]; compiled addon only. */
  batchNormFwd?(x: Float32Array, gamma: Float32Array, beta: Float32Array, rows: number, C: number, eps: number,
    y: Float32Array, mean: Float32Array, variance: Float32Array): void;
  batchNormBwd?(dy: Float32Array, x: Float32Array, gamma: Float32Array, mean: Float32Array, variance: Float32Array, rows: number, C: number,
    eps: number, dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array): void;
  /**
   * The attention core one score plane at a time (see fused-attention.ts); the mask value of
   * (b, i, j) is mask[maskBase[b] + i·rowStride + j·colStride]. Compiled addon only.
   */
  attentionFwd?(q: Float32Array, k: Float32Array, v: Float32Array, mask: Float32Array | null, maskBase: Int32Array | null, rowStride: number,
    colStride: number, batch: number, Lq: number, Lk: number, D: number, Dv: number, scale: number, o: Float32Array, p: Float32Array): void;
  /**
   * O[oo + i] = A[ao + i·sa] ⊙ B[bo + i·sb] for i < n; op 0 add, 1 sub, 2 mul, 3 div, 4 squared
   * difference. Compiled addon only, as are relu, step and reluGrad (dx = dy·step(x)).
   */
  binaryRun?(op: number, A: Float32Array, ao: number, sa: number, B: Float32Array, bo: number, sb: number, O: Float32Array, oo: number, n: number): void;
  relu?(x: Float32Array, y: Float32Array): void;
  step?(x: Float32Array, y: Float32Array, alpha: number): void;
  reluGrad?(dy: Float32Array, x: Float32Array, dx: Float32Array): void;
  attentionBwd?(dy: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, p: Float32Array, batch: number, Lq: number, Lk: number,
    D: number, Dv: number, scale: number, dq: Float32Array, dk: Float32Array, dv: Float32Array): void;
}

/** The addon's library loaders, beyond the kernels every native-code tier has. */
export interface NativeLibraries {
  /** Loads oneDNN's dnnl_sgemm from the first candidate that has it (sequential or OpenMP builds only). */
  gemmInit(candidates: string[]): { ok: boolean; lib?: string; error?: string };
  /** Routes sgemm to oneDNN (true, once loaded) or OpenBLAS (false); returns whether oneDNN is in use. */
  useGemm(onednn: boolean): boolean;
}

export type GemmLibrary = 'onednn' | 'openblas';

export interface NativeStatus {
  addon: NativeAddon | null;
  /** OpenBLAS loaded (cblas_sgemm resolved). */
  blas: boolean;
  /** What loaded, or why not. */
  detail: string;
  corename?: string;
  /** Where the core type came from: 'environment', 'set from cpu flags (<flags>)', or 'auto-detected'. */
  coretypeSource?: string;
  /** The library matrix products run on. */
  gemm?: GemmLibrary;
  /** Whether oneDNN loaded (so selectGemm('onednn') can work). */
  onednn?: boolean;
}

const require = createRequire(import.meta.url);
let status: NativeStatus | null = null;

function cpuFlags(): Set<string> {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    return new Set((line ?? '').split(':')[1]?.trim().split(/\s+/) ?? []);
  } catch {
    return new Set();
  }
}

/** Sets OPENBLAS_CORETYPE only when the environment leaves it (and OPENBLAS_L2_SIZE) unset. */
function chooseCoreType(): string {
  if (process.env.OPENBLAS_CORETYPE || process.env.OPENBLAS_L2_SIZE) {
    return `environment (OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? 'unset'}, OPENBLAS_L2_SIZE=${process.env.OPENBLAS_L2_SIZE ?? 'unset'})`;
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') return 'auto-detected';
  const f = cpuFlags();
  if (['avx512f', 'avx512bw', 'avx512vl', 'avx512dq', 'avx512cd'].every((x) => f.has(x))) {
    process.env.OPENBLAS_CORETYPE = 'SkylakeX';
    return 'set to SkylakeX from cpu flags (avx512f/bw/vl/dq/cd)';
  }
  if (['avx2', 'fma'].every((x) => f.has(x))) {
    process.env.OPENBLAS_CORETYPE = 'Haswell';
    return 'set to Haswell from cpu flags (avx2, fma)';
  }
  return 'auto-detected';
}

const BLAS_CANDIDATES = ['libopenblas.so.0', 'libopenblas.so', 'libopenblasp-r0.so', 'libopenblas.dylib'];
const ONEDNN_CANDIDATES = ['libdnnl.so.3', 'libdnnl.so.2', 'libdnnl.so', 'libdnnl.3.dylib', 'libdnnl.2.dylib'];
const GEMM_CHOICES = ['auto', 'onednn', 'openblas'] as const;

/** OPENCLIP_GEMM, checked: auto (default), onednn or openblas. */
function gemmRequest(): (typeof GEMM_CHOICES)[number] {
  const v = process.env.OPENCLIP_GEMM ?? '';
  if (v === '') return 'auto';
  if ((GEMM_CHOICES as readonly string[]).includes(v)) return v as (typeof GEMM_CHOICES)[number];
  throw new Error(`OPENCLIP_GEMM: unknown GEMM library '${v}' (choose one of: ${GEMM_CHOICES.join(', ')})`);
}

/**
 * Switches the addon's matrix products between oneDNN and OpenBLAS (tests run the kernels
 * both ways). Returns the library now in use; throws when oneDNN is asked for but not loaded.
 */
export function selectGemm(lib: GemmLibrary): GemmLibrary {
  if (!status?.addon || !status.blas) throw new Error('selectGemm: the native addon with OpenBLAS is not loaded');
  const libs = status.addon as unknown as NativeLibraries;
  if (lib === 'onednn' && !status.onednn) throw new Error('selectGemm: oneDNN is not loaded');
  status.gemm = libs.useGemm(lib === 'onednn') ? 'onednn' : 'openblas';
  return status.gemm;
}

/**
 * Loads the addon, OpenBLAS and (unless OPENCLIP_GEMM=openblas) oneDNN once. Throws only for a
 * bad OPENCLIP_GEMM, or for OPENCLIP_GEMM=onednn without oneDNN; otherwise the status says
 * what is missing.
 */
export function loadNative(threads: number): NativeStatus {
  if (status) {
    if (status.addon && status.blas) status.addon.setThreads(threads);
    return status;
  }
  if (process.env.OPENCLIP_NATIVE === '0') {
    status = { addon: null, blas: false, detail: 'disabled by OPENCLIP_NATIVE=0' };
    return status;
  }
  let addon: NativeAddon;
  try {
    addon = require('@openclip/engine-native') as NativeAddon;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'MODULE_NOT_FOUND' ? 'addon not built (needs g++ at npm install)' : err.message.split('\n')[0];
    status = { addon: null, blas: false, detail: `@openclip/engine-native: ${why}` };
    return status;
  }
  const extra = process.env.OPENCLIP_OPENBLAS ? [process.env.OPENCLIP_OPENBLAS] : [];
  const coretypeSource = chooseCoreType();
  const r = addon.blasInit([...extra, ...BLAS_CANDIDATES]);
  if (!r.ok) {
    status = { addon, blas: false, detail: `OpenBLAS not found (${r.error}); install libopenblas0`, coretypeSource };
    return status;
  }
  const want = gemmRequest();
  addon.setThreads(threads);
  const blasDetail = `${r.config ?? 'OpenBLAS'} via ${r.lib}, core ${r.corename}`;
  status = { addon, blas: true, detail: blasDetail, corename: r.corename, coretypeSource, gemm: 'openblas', onednn: false };
  if (want === 'openblas') {
    status.detail = `${blasDetail}; matrix products on OpenBLAS (OPENCLIP_GEMM=openblas)`;
    return status;
  }
  const libs = addon as unknown as NativeLibraries;
  const d = libs.gemmInit(process.env.OPENCLIP_ONEDNN ? [process.env.OPENCLIP_ONEDNN, ...ONEDNN_CANDIDATES] : ONEDNN_CANDIDATES);
  if (!d.ok) {
    if (want === 'onednn') throw new Error(`OPENCLIP_GEMM=onednn, but oneDNN did not load: ${d.error} (install libdnnl2)`);
    status.detail = `${blasDetail}; matrix products on OpenBLAS (oneDNN not found)`;
    return status;
  }
  status.onednn = true;
  status.gemm = libs.useGemm(true) ? 'onednn' : 'openblas'; // (gemmInit gave OpenMP the thread count set above)
  status.detail = `matrix products on ${d.lib}; ${blasDetail}`;
  return status;
}
