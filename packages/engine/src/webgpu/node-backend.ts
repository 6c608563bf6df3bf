/**
 * TF.js's WebGPU backend made usable by synchronous code in Node: `readSync` (behind
 * `dataSync()`, `arraySync()`, `bufferSync()`) copies the tensor into a mappable staging buffer
 * and waits for the map by processing Dawn's events in place (dawn-tick.ts), instead of the
 * browser-only OffscreenCanvas path TF.js 4.22 takes (which throws in Node).
 */
import { tf } from '../tf.js';
import { waitUntil } from './dawn-tick.js';
import type { GpuBuffer, GpuDevice, GpuAdapterInfo } from './adapter.js';

// GPUBufferUsage / GPUMapMode values (WebGPU spec constants).
const MAP_READ = 0x0001;
const COPY_DST = 0x0008;
const MODE_READ = 0x0001;

interface TensorData {
  values: tf.backend_util.BackendValues | null;
  dtype: tf.DataType;
  resource?: GpuBuffer | unknown;
  complexTensorInfos?: unknown;
}

/** The members of TF.js's WebGPUBackend this subclass uses (the package's own typings need DOM types). */
export interface WebGpuBackendInstance extends tf.KernelBackend {
  device: GpuDevice;
  tensorMap: { get(id: object): TensorData; has(id: object): boolean };
  bufferManager: { acquireBuffer(size: number, usage: number): GpuBuffer; releaseBuffer(b: GpuBuffer): void };
  commandEncoder: { copyBufferToBuffer(src: GpuBuffer, so: number, dst: GpuBuffer, d: number, size: number): void };
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  convertAndCacheOnCPU(id: object, data: tf.backend_util.BackendValues): void;
  memory(): { numBytesInGPU: number; numBytesAllocatedInGPU: number; unreliable: boolean; numDataBuffers?: number };
  numDataIds(): number;
}
export type WebGpuBackendClass = new (device: GpuDevice, info?: GpuAdapterInfo) => WebGpuBackendInstance;

/** Reads a GPU buffer synchronously through a pooled staging buffer. */
function readBufferSync(b: WebGpuBackendInstance, buffer: GpuBuffer): ArrayBuffer {
  const size = buffer.size;
  const staging = b.bufferManager.acquireBuffer(size, COPY_DST | MAP_READ);
  b.ensureCommandEncoderReady();
  b.endComputePassEncoder();
  b.commandEncoder.copyBufferToBuffer(buffer, 0, staging, 0, size);
  b.submitQueue();
  staging.mapAsync(MODE_READ).catch(() => undefined); // a failed map leaves mapState 'unmapped'; checked below
  waitUntil(() => staging.mapState !== 'pending', `reading ${size} bytes back from the GPU`);
  if (staging.mapState !== 'mapped') {
    b.bufferManager.releaseBuffer(staging);
    throw new Error(`webgpu: mapping a ${size}-byte staging buffer for reading failed (device lost?)`);
  }
  const out = staging.getMappedRange().slice(0);
  staging.unmap();
  b.bufferManager.releaseBuffer(staging);
  return out;
}

/** Subclasses the package's WebGPUBackend with a synchronous readSync. */
export function nodeBackendClass(Base: WebGpuBackendClass): WebGpuBackendClass {
  return class NodeWebGpuBackend extends Base {
    override readSync(dataId: object): tf.backend_util.BackendValues {
      const d = this.tensorMap.get(dataId);
      if (d.values != null || d.dtype === 'string' || d.dtype === 'complex64') return super.readSync(dataId);
      const res = d.resource as GpuBuffer | undefined;
      if (!res || typeof (res as { mapAsync?: unknown }).mapAsync !== 'function') {
        throw new Error(`webgpu: a ${d.dtype} tensor held in a texture cannot be read synchronously; use await tensor.data()`);
      }
      const vals = tf.util.convertBackendValuesAndArrayBuffer(readBufferSync(this, res), d.dtype) as tf.backend_util.BackendValues;
      this.convertAndCacheOnCPU(dataId, vals);
      return vals;
    }
  };
}
