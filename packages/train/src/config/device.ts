/**
 * `--device` as OpenCLIP's init_distributed_device reads it, mapped onto the TensorFlow.js
 * backend that was chosen: `cuda` (the default) runs on the GPU when the tensorflow backend is
 * the tfjs-node-gpu build and otherwise falls back to the CPU with OpenCLIP's warning; `cpu`
 * runs on the CPU; a device TensorFlow.js cannot drive (mps, xpu, hpu, npu, ...) is refused.
 */
export class DeviceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeviceError';
  }
}

/** What the device decision needs of the engine (EngineInfo satisfies it). */
export interface EngineLike {
  backend: string;
  backends: readonly { name: string; available: boolean; detail: string }[];
}

/** True when the chosen backend computes on a GPU (tfjs-node-gpu). */
export function engineUsesGpu(info: EngineLike): boolean {
  return info.backend === 'tensorflow' && (info.backends.find((b) => b.name === 'tensorflow')?.detail ?? '').includes('tfjs-node-gpu');
}

/**
 * The device string OpenCLIP would record (`cuda:0` or `cpu`) and the warning to log, if any.
 * Throws DeviceError, naming the flag value, for a device this engine cannot run on.
 */
export function resolveDevice(device: string, info: EngineLike, localRank = 0): { device: string; warning: string | null } {
  const [type, index, ...extra] = device.split(':');
  if (extra.length || (index !== undefined && !/^\d+$/.test(index))) throw new DeviceError(`--device ${device}: expected TYPE or TYPE:INDEX (cpu, cuda, cuda:0)`);
  const gpu = engineUsesGpu(info);
  if (type === 'cpu') {
    if (gpu) throw new DeviceError(`--device cpu: the ${info.backend} backend runs on the GPU (tfjs-node-gpu); hide the GPU with CUDA_VISIBLE_DEVICES= or pick a CPU backend with --backend wasm`);
    return { device: 'cpu', warning: null };
  }
  if (type === 'cuda') {
    if (!gpu) return { device: 'cpu', warning: `Device ${device} was not available, falling back to CPU (the ${info.backend} backend computes on the CPU; install @tensorflow/tfjs-node-gpu for CUDA).` };
    if (index !== undefined && Number(index) !== 0) {
      throw new DeviceError(`--device ${device}: TensorFlow.js uses the first visible GPU; select GPU ${index} with CUDA_VISIBLE_DEVICES=${index} and --device cuda`);
    }
    return { device: `cuda:${index ?? localRank}`, warning: null };
  }
  throw new DeviceError(`--device ${device}: TensorFlow.js has no '${type}' device; openclip-ts runs on cpu, or on cuda with @tensorflow/tfjs-node-gpu`);
}
