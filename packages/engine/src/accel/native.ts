/**
 * Loads the optional native addon (@openclip/engine-native) and, through it, OpenBLAS. The
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
}

export interface NativeStatus {
  addon: NativeAddon | null;
  /** OpenBLAS loaded (cblas_sgemm resolved). */
  blas: boolean;
  /** What loaded, or why not. */
  detail: string;
  corename?: string;
  /** Where the core type came from: 'environment', 'set from cpu flags (<flags>)', or 'auto-detected'. */
  coretypeSource?: string;
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

/** Loads the addon and OpenBLAS once; never throws (the status says what is missing). */
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
  addon.setThreads(threads);
  status = { addon, blas: true, detail: `${r.config ?? 'OpenBLAS'} via ${r.lib}, core ${r.corename}`, corename: r.corename, coretypeSource };
  return status;
}
