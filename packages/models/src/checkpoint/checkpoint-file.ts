/**
 * OpenCLIP's `load_state_dict` / `load_checkpoint` file handling: reads `.safetensors`,
 * `open_clip_pytorch_model.bin` and trainer checkpoints (`epoch_K.pt`, whose `state_dict` entry
 * is taken), strips DDP's `module.` prefix, upcasts fp16/bf16 tensors to float32, and keeps the
 * other trainer entries (epoch, name, optimizer, scaler) for callers. `saveStateDict` writes
 * safetensors under OpenCLIP's key names, atomically.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import {
  loadSafetensors,
  saveSafetensors,
  toFloat32,
  type RawTensor,
  type TensorToWrite,
} from '@openclip/engine/safetensors';
import { loadTorchCheckpoint, PyDict } from './torch-load.js';
import { CheckpointFormatError } from './zip.js';

export interface LoadModelCheckpointOptions {
  /** Convert F16/BF16 tensors to F32 (default true, as the model runs in float32). */
  upcast?: boolean;
  /** Strip a leading `module.` from keys (default true, as OpenCLIP does). */
  stripModulePrefix?: boolean;
}

export interface LoadedModelCheckpoint {
  /** Model tensors keyed by OpenCLIP state-dict names. */
  stateDict: Map<string, RawTensor>;
  format: 'safetensors' | 'torch-zip' | 'torch-legacy';
  /** safetensors `__metadata__` (empty for torch files). */
  metadata: Record<string, string>;
  /** For a trainer checkpoint (`{epoch, name, state_dict, optimizer, ...}`): every entry except `state_dict`. */
  trainer?: TrainerCheckpointInfo;
}

export interface TrainerCheckpointInfo {
  epoch?: number;
  name?: string;
  /** torch optimizer state: PyDict with `state` (param index → PyDict of tensors) and `param_groups`. */
  optimizer?: PyDict;
  /** All top-level entries other than `state_dict`, as unpickled. */
  entries: PyDict;
}

function stripPrefix(key: string): string {
  return key.startsWith('module.') ? key.slice('module.'.length) : key;
}

let f16Table: Float32Array | undefined;

/** IEEE half bits -> float32 through a 64K-entry table (exact; far faster than per-element arithmetic). */
export function halfToFloat32(bits: Uint16Array): Float32Array {
  if (!f16Table) f16Table = toFloat32({ dtype: 'F16', shape: [65536], data: Uint16Array.from({ length: 65536 }, (_, i) => i) });
  const out = new Float32Array(bits.length);
  const table = f16Table;
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}

function upcastTensor(t: RawTensor): RawTensor {
  if (t.dtype === 'F16') return { dtype: 'F32', shape: t.shape, data: halfToFloat32(t.data as Uint16Array) };
  if (t.dtype === 'BF16') return { dtype: 'F32', shape: t.shape, data: toFloat32(t) };
  return t;
}

function isRawTensor(v: unknown): v is RawTensor {
  return typeof v === 'object' && v !== null && 'dtype' in v && 'shape' in v && 'data' in v && ArrayBuffer.isView((v as RawTensor).data);
}

function finish(path: string, entries: Iterable<[unknown, unknown]>, opts: LoadModelCheckpointOptions): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  const strip = opts.stripModulePrefix ?? true;
  const upcast = opts.upcast ?? true;
  for (const [k, v] of entries) {
    if (typeof k !== 'string') throw new CheckpointFormatError(path, `state dict key ${String(k)} is not a string`);
    if (!isRawTensor(v)) throw new CheckpointFormatError(path, `state dict entry '${k}' is not a tensor (${v === null ? 'None' : typeof v})`);
    const name = strip ? stripPrefix(k) : k;
    if (out.has(name)) throw new CheckpointFormatError(path, `key '${name}' appears twice (with and without the 'module.' prefix)`);
    out.set(name, upcast ? upcastTensor(v) : v);
  }
  return out;
}

/** safetensors content under another extension: an 8-byte little-endian header length, then a JSON object. */
function looksLikeSafetensors(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(9);
    if (readSync(fd, b, 0, 9, 0) !== 9) return false;
    const n = b.readBigUInt64LE(0);
    return b[8] === 0x7b && n > 1n && n < BigInt(fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
}

/** Reads a checkpoint file: safetensors, a torch state dict, or a trainer checkpoint with a `state_dict` entry. */
export function loadModelCheckpoint(path: string, options: LoadModelCheckpointOptions = {}): LoadedModelCheckpoint {
  if (!existsSync(path)) throw new Error(`checkpoint not found: ${path}`);
  if (statSync(path).isDirectory()) throw new Error(`${path} is a directory; give the checkpoint file inside it (or use local-dir:${path})`);
  if (path.endsWith('.safetensors') || looksLikeSafetensors(path)) {
    const { tensors, metadata } = loadSafetensors(path);
    return { stateDict: finish(path, tensors, options), format: 'safetensors', metadata };
  }
  const { value, format } = loadTorchCheckpoint(path);
  const fmt = format === 'zip' ? 'torch-zip' : 'torch-legacy';
  if (!(value instanceof Map)) {
    throw new CheckpointFormatError(path, `top-level object is ${Array.isArray(value) ? 'a list/tuple' : typeof value}, not a state dict or a trainer checkpoint dict`);
  }
  const sd = value.get('state_dict');
  if (sd instanceof Map) {
    const entries = new PyDict(value instanceof PyDict ? value.className : 'dict');
    for (const [k, v] of value) if (k !== 'state_dict') entries.set(k, v);
    const epoch = entries.get('epoch');
    const name = entries.get('name');
    const optimizer = entries.get('optimizer');
    return {
      stateDict: finish(path, sd, options),
      format: fmt,
      metadata: {},
      trainer: {
        epoch: typeof epoch === 'number' ? epoch : undefined,
        name: typeof name === 'string' ? name : undefined,
        optimizer: optimizer instanceof PyDict ? optimizer : undefined,
        entries,
      },
    };
  }
  return { stateDict: finish(path, value, options), format: fmt, metadata: {} };
}

/** OpenCLIP `load_state_dict(path)`: the model tensors of any supported checkpoint file. */
export function loadStateDict(path: string, options: LoadModelCheckpointOptions = {}): Map<string, RawTensor> {
  return loadModelCheckpoint(path, options).stateDict;
}

/**
 * Writes tensors under their OpenCLIP state-dict names to a safetensors file (temporary file,
 * fsync, rename), with optional string metadata, so Python OpenCLIP can load it as `pretrained`.
 */
export function saveStateDict(
  path: string,
  stateDict: Map<string, TensorToWrite> | Record<string, TensorToWrite>,
  metadata?: Record<string, string>,
): void {
  const entries = stateDict instanceof Map ? [...stateDict.keys()] : Object.keys(stateDict);
  for (const k of entries) {
    if (k.startsWith('module.')) throw new Error(`saveStateDict: key '${k}' has a 'module.' prefix; OpenCLIP model files use unwrapped names`);
  }
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new Error(`saveStateDict: metadata '${k}' must be a string`);
  }
  saveSafetensors(path, stateDict, metadata);
}
