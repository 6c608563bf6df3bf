/**
 * Direct access to the memory behind TensorFlow.js tensors inside a kernel, for the cpu
 * backend (JS typed arrays) and the wasm backend (views of the wasm heap). This is what lets
 * JS and native kernels work in place, without copies.
 */
import { tf } from '../tf.js';

export type TensorInfo = { dataId: object; shape: number[]; dtype: tf.DataType };
export type Numeric = Float32Array | Int32Array | Uint8Array;

/** The subset of BackendWasm / MathBackendCPU the kernels use. */
export interface KernelBackend {
  makeOutput?(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap?(t: TensorInfo): Numeric;
  makeTensorInfo?(shape: number[], dtype: tf.DataType, values?: Numeric): TensorInfo;
  /** The native backend's recycling allocator (zero-filled unless `overwrite`). */
  allocValues?(dtype: 'float32' | 'int32', n: number, overwrite?: boolean): Float32Array | Int32Array;
  data?: { get(id: object): { values: Numeric } };
  disposeData(id: object, force?: boolean): boolean;
  incRef(id: object): void;
  readSync(id: object): Numeric;
}

export function isWasm(backend: KernelBackend): boolean {
  return typeof backend.typedArrayFromHeap === 'function';
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Allocates an output (zero-filled, unless `overwrite` promises the kernel writes every element). On wasm, create every output of a kernel BEFORE taking views: an
 * allocation can grow the heap, which detaches views taken earlier.
 */
export function makeOutput(backend: KernelBackend, shape: number[], dtype: tf.DataType, overwrite = false): TensorInfo {
  // (the cpu backend also has a makeOutput, with another signature)
  if (isWasm(backend)) return backend.makeOutput!(shape, dtype);
  const n = sizeOf(shape);
  const values = backend.allocValues && (dtype === 'float32' || dtype === 'int32')
    ? backend.allocValues(dtype, n, overwrite)
    : dtype === 'int32' ? new Int32Array(n) : dtype === 'bool' ? new Uint8Array(n) : new Float32Array(n);
  return backend.makeTensorInfo!(shape, dtype, values);
}

/** The live values of a tensor (a view of the wasm heap, or the cpu backend's own array). */
export function view(backend: KernelBackend, t: TensorInfo): Numeric {
  if (backend.typedArrayFromHeap) return backend.typedArrayFromHeap(t);
  const entry = backend.data!.get(t.dataId);
  // tfjs-cpu's Cast from int32 to float32 keeps the Int32Array; give the entry the array its dtype implies
  if (t.dtype === 'float32' && !(entry.values instanceof Float32Array)) entry.values = Float32Array.from(entry.values);
  else if (t.dtype === 'int32' && !(entry.values instanceof Int32Array)) entry.values = Int32Array.from(entry.values);
  return entry.values;
}

export function viewF32(backend: KernelBackend, t: TensorInfo): Float32Array {
  const v = view(backend, t);
  if (!(v instanceof Float32Array)) throw new Error(`expected a float32 tensor, got ${t.dtype}`);
  return v;
}

export function dispose(backend: KernelBackend, ...ts: (TensorInfo | null | undefined)[]): void {
  for (const t of ts) if (t) backend.disposeData(t.dataId);
}

/** Saved original kernel configs, so overrides can be removed again (tier switching, tests). */
const originals = new Map<string, tf.KernelConfig | null>();

export function originalKernel(kernelName: string, backendName: string): tf.KernelConfig | null {
  const key = `${backendName}_${kernelName}`;
  if (originals.has(key)) return originals.get(key)!;
  return tf.getKernel(kernelName, backendName) ?? null;
}

/** Replaces (or adds) a kernel, remembering the backend's own one the first time. */
export function overrideKernel(config: tf.KernelConfig): void {
  const key = `${config.backendName}_${config.kernelName}`;
  const existing = tf.getKernel(config.kernelName, config.backendName) ?? null;
  if (!originals.has(key)) originals.set(key, existing);
  if (existing) tf.unregisterKernel(config.kernelName, config.backendName);
  tf.registerKernel(config);
}

/** Puts back the backend's own kernel (or removes an added one) for every override made for the given names. */
export function restoreKernels(backendName: string, kernelNames: readonly string[]): void {
  for (const name of kernelNames) {
    const key = `${backendName}_${name}`;
    if (!originals.has(key)) continue;
    const orig = originals.get(key)!;
    if (tf.getKernel(name, backendName)) tf.unregisterKernel(name, backendName);
    if (orig) tf.registerKernel(orig);
  }
}
