/**
 * Host-side reads and writes of float32 tensors for code outside kernels that moves whole
 * gradients (the data-parallel all-reduce), without what `dataSync()` costs on the native
 * backend: an array handed out by dataSync is never recycled, so every step would allocate
 * (and page-fault) fresh arrays of the same sizes.
 *
 * - `readOnlyValues` is the tensor's own array on the native and cpu backends (read it at once;
 *   never write it or keep it past the tensor's life), a downloaded copy elsewhere.
 * - `readValuesInto` copies a tensor's values into the caller's array (no escape, no allocation
 *   on the native and cpu backends; dataSync elsewhere).
 * - `writableValues` is the tensor's own array when nothing else can see it (the native backend
 *   allocated it, one data entry with one reference holds it, it never left the backend), so
 *   the caller may overwrite it in place; null otherwise.
 * - `tensorFromValues` makes a tensor holding a copy of `values` in a recycled array.
 */
import { tf } from '../tf.js';
import type { Tensor } from '../tf.js';
import { NATIVE_BACKEND, type NativeMemoryBackend } from './native-backend.js';

type HostData = { get(id: object): { values?: unknown } | undefined };

function dataId(t: Tensor): object {
  return (t as unknown as { dataId: object }).dataId;
}

function nativeBackend(): NativeMemoryBackend | null {
  return tf.getBackend() === NATIVE_BACKEND ? (tf.backend() as unknown as NativeMemoryBackend) : null;
}

function f32(t: Tensor, what: string): void {
  if (t.dtype !== 'float32') throw new Error(`${what}: expected a float32 tensor, got ${t.dtype}`);
}

/** `t`'s values: its own array on the native and cpu backends (see the file comment), else a copy. */
export function readOnlyValues(t: Tensor): Float32Array {
  f32(t, 'readOnlyValues');
  const name = tf.getBackend();
  if (name === NATIVE_BACKEND || name === 'cpu') {
    const v = (tf.backend() as unknown as { data: HostData }).data.get(dataId(t))?.values;
    if (v instanceof Float32Array && v.length === t.size) return v;
  }
  return t.dataSync() as Float32Array;
}

/** Copies `t`'s values into `dst` at `offset`. */
export function readValuesInto(t: Tensor, dst: Float32Array, offset = 0): void {
  f32(t, 'readValuesInto');
  if (offset < 0 || offset + t.size > dst.length) throw new Error(`readValuesInto: ${t.size} values do not fit at ${offset} in an array of ${dst.length}`);
  dst.set(readOnlyValues(t), offset);
}

/** `t`'s own array when the caller may overwrite it in place (see the file comment), else null. */
export function writableValues(t: Tensor): Float32Array | null {
  f32(t, 'writableValues');
  const b = nativeBackend();
  if (!b || !b.mutable(dataId(t))) return null;
  const v = (b as unknown as { data: HostData }).data.get(dataId(t))?.values;
  return v instanceof Float32Array && v.length === t.size ? v : null;
}

/** A float32 tensor of `shape` holding a copy of `values` (a recycled array on the native backend). */
export function tensorFromValues(values: Float32Array, shape: number[]): Tensor {
  const n = shape.reduce((a, d) => a * d, 1);
  if (values.length !== n) throw new Error(`tensorFromValues: ${values.length} values for shape [${shape.join(', ')}]`);
  const b = nativeBackend();
  if (!b) return tf.tensor(Float32Array.from(values), shape, 'float32');
  const arr = b.allocValues('float32', n, true) as Float32Array;
  arr.set(values);
  const info = (b as unknown as { makeTensorInfo(s: number[], d: string, v: Float32Array): { dataId: object; shape: number[]; dtype: 'float32' } }).makeTensorInfo(shape, 'float32', arr);
  return tf.engine().makeTensorFromTensorInfo(info);
}
