// @openclip/engine: the one place that imports TensorFlow.js.

// TensorFlow.js, shared by every package
export { tf } from './tf.js';
export type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D, Rank, Variable, NamedTensorMap, TensorLike, DataType } from './tf.js';

// Neural-network operations (the seam for fused / native kernels)
export * as ops from './ops.js';
export type { AttentionOptions } from './ops.js';

// Backend selection
export { initEngine, engineInfo, BACKEND_NAMES } from './backend.js';
export type { BackendName, BackendStatus, EngineInfo, InitOptions } from './backend.js';
export { numThreads } from './threads.js';
export { ACCEL_TIERS, availableTiers } from './accel/tiers.js';
export { NATIVE_BACKEND, releaseMemory } from './accel/native-backend.js';
export { readOnlyValues, readValuesInto, writableValues, tensorFromValues } from './accel/host-values.js';
export type { AccelInfo, AccelTier } from './accel/tiers.js';

// WebGPU (Dawn) backend: adapter report, GPU memory
export { webgpuStatus, webgpuMemory } from './webgpu/load.js';
export type { WebGpuStatus, WebGpuMemory } from './webgpu/load.js';
export type { WebGpuAdapterReport } from './webgpu/adapter.js';

// Optimizer update kernel
export { adamwStep } from './adamw.js';
export type { AdamWOptions } from './adamw.js';

// Reproducible randomness
export { Rng } from './rng.js';
export type { RngState } from './rng.js';

// safetensors I/O
export {
  SafetensorsFile,
  SafetensorsError,
  DTYPE_SIZES,
  loadSafetensors,
  parseSafetensors,
  parseHeader,
  serializeSafetensors,
  saveSafetensors,
  toFloat32,
  typedArrayFor,
  toInt32,
  f16ToF32,
  bf16ToF32,
  f32ToF16,
  f32ToBf16,
} from './safetensors.js';
export type { DType, RawTensor, TensorEntry, TensorData, TensorToWrite } from './safetensors.js';
