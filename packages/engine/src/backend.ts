/**
 * Backend selection. Order, best first: `tensorflow` (tfjs-node-gpu / tfjs-node, when
 * installed and loadable), `webgpu` (Dawn, on a hardware adapter), `native` (tensors in
 * process memory, kernels from the OpenBLAS addon or ONNX Runtime), `wasm` (4 GB heap;
 * JavaScript kernels when no native code loads), `cpu`. `OPENCLIP_BACKEND` or an explicit
 * request (the CLI's `--backend`) picks one; it then must load or we fail. On top of the backend
 * an acceleration tier is installed (accel/tiers.ts); `OPENCLIP_ACCEL` or the `accel` option
 * pick one explicitly.
 */
import { createRequire } from 'node:module';
import { tf } from './tf.js';
import { numThreads } from './threads.js';
import { type AccelInfo, type AccelRequest, nativeBackendUnavailable, parseAccelRequest, setupAccel } from './accel/tiers.js';
import { NATIVE_BACKEND, registerNativeBackend } from './accel/native-backend.js';
import { loadWebgpu } from './webgpu/load.js';
import { installEagerBackprop } from './backprop.js';

export const BACKEND_NAMES = ['tensorflow', 'webgpu', 'native', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface BackendStatus {
  name: BackendName;
  available: boolean;
  /** Why it is not available, or what provided it. */
  detail: string;
}

export interface EngineInfo {
  backend: BackendName;
  /** How the chosen backend was picked: 'auto', 'OPENCLIP_BACKEND' or 'flag'. */
  selectedBy: 'auto' | 'OPENCLIP_BACKEND' | 'flag';
  backends: BackendStatus[];
  /** The acceleration tier installed on the chosen backend. */
  accel: AccelInfo;
  tfjsVersion: string;
  threads: number;
  platform: string;
  arch: string;
  node: string;
}

interface Candidate {
  name: BackendName;
  /**
   * Makes the backend usable; returns a short description, or throws why not. `named`: asked
   * for by name; `accel`: the acceleration tier requested.
   */
  load(named: boolean, accel: AccelRequest): Promise<string>;
}

const require = createRequire(import.meta.url);

async function loadTensorflow(): Promise<string> {
  const errors: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      require(pkg);
      if (!tf.findBackendFactory('tensorflow')) {
        errors.push(`${pkg} loaded but registered no 'tensorflow' backend with this tfjs-core (version mismatch: pin @tensorflow/tfjs-core ${tf.version_core})`);
        continue;
      }
      if (!(await tf.setBackend('tensorflow'))) {
        errors.push(`${pkg}: backend failed to initialise`);
        continue;
      }
      return pkg;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      errors.push(err.code === 'MODULE_NOT_FOUND' ? `${pkg} not installed` : `${pkg}: ${err.message.split('\n')[0]}`);
    }
  }
  throw new Error(errors.join('; '));
}

async function loadWasm(): Promise<string> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setThreadsCount?.(numThreads());
  if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend failed to initialise');
  return `tfjs-backend-wasm ${wasm.version_wasm}${tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? ' (SIMD)' : ''}`;
}

async function loadNativeBackend(accel: AccelRequest): Promise<string> {
  const why = nativeBackendUnavailable(accel, numThreads());
  if (why) throw new Error(why);
  registerNativeBackend();
  if (!(await tf.setBackend(NATIVE_BACKEND))) throw new Error('native backend failed to initialise');
  return 'tfjs-backend-cpu tensors in process memory with native kernels';
}

async function loadCpu(): Promise<string> {
  if (!(await tf.setBackend('cpu'))) throw new Error('cpu backend failed to initialise');
  // The cpu backend prints a suggestion to install tfjs-node on first use; we report backends ourselves.
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return 'tfjs-backend-cpu (pure JavaScript)';
}

const CANDIDATES: Candidate[] = [
  { name: 'tensorflow', load: loadTensorflow },
  // WebGPU (Dawn): in auto order only on a hardware adapter; see webgpu/load.ts.
  { name: 'webgpu', load: loadWebgpu },
  { name: 'native', load: (_named, accel) => loadNativeBackend(accel) },
  { name: 'wasm', load: loadWasm },
  { name: 'cpu', load: loadCpu },
];

let current: EngineInfo | null = null;

function isBackendName(s: string): s is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(s);
}

export interface InitOptions {
  /** 'auto' or a backend name; overrides OPENCLIP_BACKEND. */
  backend?: string;
  /** Probe every backend for the report (slower), not just until one loads. */
  probeAll?: boolean;
  /** 'auto' (default), 'openblas' (must load) or 'none'; overrides OPENCLIP_ACCEL. */
  accel?: string;
}

let currentAccel: AccelRequest | null = null;

/**
 * Chooses and initialises the backend. Idempotent: a second call with the same request
 * returns the first result; a call that asks for another backend switches to it.
 */
export async function initEngine(options: InitOptions = {}): Promise<EngineInfo> {
  const fromFlag = options.backend !== undefined && options.backend !== 'auto';
  const envValue = process.env.OPENCLIP_BACKEND;
  const requested = fromFlag ? options.backend! : envValue && envValue !== 'auto' ? envValue : 'auto';
  const selectedBy: EngineInfo['selectedBy'] = fromFlag ? 'flag' : requested !== 'auto' ? 'OPENCLIP_BACKEND' : 'auto';
  if (requested !== 'auto' && !isBackendName(requested)) {
    const source = fromFlag ? '--backend' : 'OPENCLIP_BACKEND';
    throw new Error(`${source}: unknown backend '${requested}' (choose one of: auto, ${BACKEND_NAMES.join(', ')})`);
  }
  const accelRequest = options.accel !== undefined
    ? parseAccelRequest(options.accel, 'accel option')
    : parseAccelRequest(process.env.OPENCLIP_ACCEL, 'OPENCLIP_ACCEL');
  installEagerBackprop();
  if (current && !options.probeAll && accelRequest === currentAccel && (requested === 'auto' || requested === current.backend)) return current;

  const statuses: BackendStatus[] = [];
  let chosen: BackendName | null = null;
  const order = requested === 'auto' ? CANDIDATES : CANDIDATES.filter((c) => c.name === requested);
  for (const c of order) {
    if (chosen && !options.probeAll) break;
    try {
      const detail = await c.load(requested !== 'auto', accelRequest);
      statuses.push({ name: c.name, available: true, detail });
      chosen ??= c.name;
    } catch (e) {
      statuses.push({ name: c.name, available: false, detail: (e as Error).message });
    }
  }
  if (!chosen) {
    const why = statuses.map((s) => `${s.name}: ${s.detail}`).join('; ');
    throw new Error(requested === 'auto' ? `no TensorFlow.js backend could be loaded (${why})` : `backend '${requested}' is not available: ${why}`);
  }
  if (tf.getBackend() !== chosen) await tf.setBackend(chosen);
  await tf.ready();
  const threads = numThreads();
  const accel = setupAccel(chosen, accelRequest, threads);
  currentAccel = accelRequest;
  for (const c of CANDIDATES) {
    if (!statuses.some((s) => s.name === c.name)) statuses.push({ name: c.name, available: false, detail: 'not probed' });
  }
  current = {
    backend: chosen,
    selectedBy,
    backends: statuses,
    accel,
    tfjsVersion: tf.version_core,
    threads,
    platform: process.platform,
    arch: process.arch,
    node: process.version,
  };
  return current;
}

/** The result of the last initEngine, or null before it. */
export function engineInfo(): EngineInfo | null {
  return current;
}
