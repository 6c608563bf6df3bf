/**
 * The `webgpu` backend candidate: TF.js's WebGPU backend (@tensorflow/tfjs-backend-webgpu 4.22)
 * on Dawn (the `webgpu` npm package), both optional dependencies installed from npm alone.
 *
 * In auto selection it is taken only on a hardware adapter; a software or fallback adapter
 * (lavapipe, SwiftShader, llvmpipe through OpenGL ES) only when asked for by name
 * (`--backend webgpu`, OPENCLIP_BACKEND=webgpu): on a CPU the CPU tiers are faster.
 * OPENCLIP_WEBGPU=0 skips it in auto selection (no Dawn instance is created then).
 *
 * Tensors are float32 on this backend (TF.js's WebGPU backend has no float16 tensors).
 */
import { createRequire } from 'node:module';
import { tf } from '../tf.js';
import { adapterLabel, describeAdapter, requestAdapter, dawnGpu, type GpuAdapter, type GpuDevice, type WebGpuAdapterReport } from './adapter.js';
import { nodeBackendClass, type WebGpuBackendClass, type WebGpuBackendInstance } from './node-backend.js';
import { installWebGpuKernels } from './kernels.js';

export interface WebGpuStatus {
  /** The adapter Dawn offered, or null when none was found (or Dawn did not load). */
  adapter: WebGpuAdapterReport | null;
  /** The backend is registered and initialised in this process. */
  loaded: boolean;
  /** Why webgpu was or was not taken (the last probe's word). */
  reason: string;
}

let status: WebGpuStatus | null = null;
let adapter: GpuAdapter | null = null;
let device: GpuDevice | null = null;
let lostReason: string | null = null;
const require = createRequire(import.meta.url);

/** What the last probe found; null before webgpu was considered in this process. */
export function webgpuStatus(): WebGpuStatus | null {
  return status;
}

function fail(reason: string, report: WebGpuAdapterReport | null = status?.adapter ?? null): never {
  status = { adapter: report, loaded: false, reason };
  throw new Error(reason);
}

async function findAdapter(): Promise<GpuAdapter> {
  if (adapter) return adapter;
  try {
    await dawnGpu();
  } catch (e) {
    fail((e as Error).message, null);
  }
  const a = await requestAdapter();
  if (!a) {
    fail('Dawn found no WebGPU adapter (no GPU driver: install the Vulkan loader libvulkan1 and a GPU ICD, or a CPU driver with `npm run setup:lavapipe`; OPENCLIP_WEBGPU_DAWN=backend=opengles uses OpenGL ES)', null);
  }
  adapter = a;
  return a;
}

/** The registered device (null until the backend is first initialised). */
export function webgpuDevice(): GpuDevice | null {
  return device;
}

async function createDevice(a: GpuAdapter): Promise<GpuDevice> {
  // The limits TF.js's own factory raises to the adapter's maxima, plus the features it uses.
  const names = ['maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension', 'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup'];
  const requiredLimits: Record<string, number> = {};
  for (const k of names) if (typeof a.limits[k] === 'number') requiredLimits[k] = a.limits[k];
  const requiredFeatures = ['timestamp-query'].filter((f) => a.features.has(f));
  const d = await a.requestDevice({ requiredLimits, requiredFeatures });
  d.lost.then((info) => {
    lostReason = `${info.reason}: ${info.message}`;
  }, () => undefined);
  return d;
}

/**
 * Makes `webgpu` the TF.js backend; returns a short description. `named`: asked for by name
 * (a software adapter is accepted then).
 */
export async function loadWebgpu(named: boolean): Promise<string> {
  if (!named && process.env.OPENCLIP_WEBGPU === '0') fail('skipped in auto selection (OPENCLIP_WEBGPU=0)', null);
  if (lostReason) fail(`the WebGPU device was lost (${lostReason})`);
  let pkgPath: string;
  try {
    pkgPath = require.resolve('@tensorflow/tfjs-backend-webgpu');
  } catch {
    fail('@tensorflow/tfjs-backend-webgpu is not installed (it is an optional dependency of @openclip/engine)', null);
  }
  const a = await findAdapter();
  const report = describeAdapter(a);
  const label = adapterLabel(report);
  if (report.software && !named) {
    fail(`adapter ${label} is a CPU implementation: used only when asked for by name (--backend webgpu or OPENCLIP_BACKEND=webgpu); the CPU tiers are faster`, report);
  }
  if (!device) {
    const mod = (await import(pkgPath)) as { WebGPUBackend: WebGpuBackendClass };
    tf.env().set('WEBGPU_CPU_FORWARD', false);
    // The package registers a factory that requests its own adapter; ours uses the one described here.
    tf.removeBackend('webgpu');
    device = await createDevice(a);
    const Backend = nodeBackendClass(mod.WebGPUBackend);
    const d = device;
    tf.registerBackend('webgpu', () => new Backend(d, a.info), 0);
    installWebGpuKernels();
  }
  if (!(await tf.setBackend('webgpu'))) fail(`the webgpu backend failed to initialise on ${label}`, report);
  const why = report.software ? 'asked for by name' : 'hardware adapter';
  status = { adapter: report, loaded: true, reason: `${why}: ${label}` };
  return `tfjs-backend-webgpu ${tf.version_core} on Dawn, ${label}${report.featureLevel === 'compatibility' ? ', compatibility mode' : ''}`;
}

/** The live backend instance, when webgpu is the current backend. */
export function webgpuBackend(): WebGpuBackendInstance | null {
  return tf.getBackend() === 'webgpu' ? (tf.backend() as unknown as WebGpuBackendInstance) : null;
}

export interface WebGpuMemory {
  /** Bytes in GPU buffers that live tensors hold. */
  bytesInUse: number;
  /** Bytes in GPU buffers allocated in all (live tensors plus the backend's pool of free buffers). */
  bytesAllocated: number;
  /** TF.js data ids the backend holds. */
  dataIds: number;
}

/** GPU memory as the webgpu backend accounts it; null when webgpu is not the current backend. */
export function webgpuMemory(): WebGpuMemory | null {
  const b = webgpuBackend();
  if (!b) return null;
  const m = b.memory();
  return { bytesInUse: m.numBytesInGPU, bytesAllocated: m.numBytesAllocatedInGPU, dataIds: b.numDataIds() };
}
