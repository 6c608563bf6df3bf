/**
 * Reads PyTorch checkpoints as `torch.load(..., weights_only=True)` would, in pure TypeScript:
 * the zip format (`<prefix>/data.pkl` + `<prefix>/data/<key>` storages, torch >= 1.6) and the
 * legacy format (a sequence of pickles followed by the raw storages). Tensors come back as the
 * engine's `RawTensor` (F16/BF16 as raw bits), non-contiguous strides are copied into
 * contiguous row-major data, and any global other than the tensor/storage rebuilders,
 * OrderedDict and a few harmless builtins is refused by name.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { DTYPE_SIZES, typedArrayFor, type DType, type RawTensor } from '@openclip/engine/safetensors';
import { CheckpointFormatError, ZipArchive } from './zip.js';
import { isTuple, PickleError, PyDict, unpickle, type PyGlobal, type PyTuple } from './pickle.js';

export { PyDict, isTuple } from './pickle.js';
export type { PyTuple } from './pickle.js';

/** torch storage classes (as pickled) and the safetensors dtype of their elements. */
export const STORAGE_DTYPES: Readonly<Record<string, DType>> = {
  DoubleStorage: 'F64',
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

interface StorageType {
  readonly storageType: string;
  readonly dtype: DType;
}

/** A storage resolved from a persistent id: raw little-endian bytes of `numel` elements. */
interface Storage {
  readonly key: string;
  readonly dtype: DType;
  readonly bytes: Uint8Array;
  readonly numel: number;
}

export interface TorchCheckpoint {
  /** The unpickled top-level object: PyDict for dicts, arrays (frozen for tuples), RawTensor for tensors. */
  value: unknown;
  format: 'zip' | 'legacy';
}

const typedView = typedArrayFor;

function asInt(v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= 0n) return Number(v);
  throw new Error(`${what} is not an integer (${String(v)})`);
}

function asIntTuple(v: unknown, what: string): number[] {
  if (!Array.isArray(v)) throw new Error(`${what} is not a tuple`);
  return v.map((x, i) => asInt(x, `${what}[${i}]`));
}

/** Copies `size`/`stride` elements starting at `offset` out of a storage into contiguous row-major bytes. */
export function gatherStrided(storage: { bytes: Uint8Array; numel: number; key: string }, elemSize: number, offset: number, size: number[], stride: number[]): Uint8Array {
  if (size.length !== stride.length) throw new Error(`size [${size}] and stride [${stride}] have different ranks`);
  const numel = size.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(new ArrayBuffer(numel * elemSize));
  if (numel === 0) return out;
  let maxIndex = offset;
  for (let d = 0; d < size.length; d++) {
    if (stride[d] < 0) throw new Error(`negative stride ${stride[d]}`);
    maxIndex += (size[d] - 1) * stride[d];
  }
  if (offset < 0 || maxIndex >= storage.numel) {
    throw new Error(`view (offset ${offset}, size [${size}], stride [${stride}]) reaches element ${maxIndex} but storage '${storage.key}' has ${storage.numel} elements`);
  }
  // Contiguous (ignoring size-1 dims): one copy.
  let expected = 1;
  let contiguous = true;
  for (let d = size.length - 1; d >= 0; d--) {
    if (size[d] !== 1 && stride[d] !== expected) {
      contiguous = false;
      break;
    }
    expected *= size[d];
  }
  const src = storage.bytes;
  if (contiguous) {
    out.set(src.subarray(offset * elemSize, (offset + numel) * elemSize));
    return out;
  }
  // General case: walk the index odometer, copying runs along the last dim when it is unit-stride.
  const rank = size.length;
  const inner = size[rank - 1];
  const innerStride = stride[rank - 1];
  const idx = new Array<number>(rank - 1).fill(0);
  let o = 0;
  for (;;) {
    let base = offset;
    for (let d = 0; d < rank - 1; d++) base += idx[d] * stride[d];
    if (innerStride === 1) {
      out.set(src.subarray(base * elemSize, (base + inner) * elemSize), o);
      o += inner * elemSize;
    } else {
      for (let j = 0; j < inner; j++) {
        const s = (base + j * innerStride) * elemSize;
        for (let b = 0; b < elemSize; b++) out[o++] = src[s + b];
      }
    }
    let d = rank - 2;
    while (d >= 0) {
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
      d--;
    }
    if (d < 0) break;
  }
  return out;
}

function isContiguous(size: number[], stride: number[]): boolean {
  let expected = 1;
  for (let d = size.length - 1; d >= 0; d--) {
    if (size[d] !== 1 && stride[d] !== expected) return false;
    expected *= size[d];
  }
  return size.length === stride.length;
}

function rebuildTensor(storage: unknown, offsetV: unknown, sizeV: unknown, strideV: unknown): RawTensor {
  const s = storage as Storage;
  if (!s || typeof s !== 'object' || !('bytes' in s) || !('dtype' in s)) throw new Error('first argument is not a storage');
  const offset = asInt(offsetV, 'storage_offset');
  const size = asIntTuple(sizeV, 'size');
  const stride = asIntTuple(strideV, 'stride');
  const numel = size.reduce((a, b) => a * b, 1);
  // A contiguous view of a whole storage (the usual state-dict case) uses the storage bytes as they are.
  const whole = offset === 0 && numel === s.numel && s.bytes.byteLength === numel * DTYPE_SIZES[s.dtype] && isContiguous(size, stride) && s.bytes.byteOffset % 8 === 0;
  const bytes = whole ? s.bytes : gatherStrided(s, DTYPE_SIZES[s.dtype], offset, size, stride);
  return { dtype: s.dtype, shape: size, data: typedView(s.dtype, bytes) };
}

function global(module: string, name: string, call?: PyGlobal['call'], build?: PyGlobal['build']): PyGlobal {
  return { module, name, call, build };
}

/** The globals a state dict / trainer checkpoint may reference. Anything else is refused. */
function makeFindGlobal(dryRun: boolean) {
  const placeholder = (): RawTensor => ({ dtype: 'F32', shape: [0], data: new Float32Array(0) });
  const tensorV2 = global('torch._utils', '_rebuild_tensor_v2', (a) => (dryRun ? placeholder() : rebuildTensor(a[0], a[1], a[2], a[3])));
  const tensorV1 = global('torch._utils', '_rebuild_tensor', (a) => (dryRun ? placeholder() : rebuildTensor(a[0], a[1], a[2], a[3])));
  const parameter = global('torch._utils', '_rebuild_parameter', (a) => a[0]);
  const parameterWithState = global('torch._utils', '_rebuild_parameter_with_state', (a) => a[0]);
  const fromType = global('torch._tensor', '_rebuild_from_type_v2', (a) => {
    const [fn, , args, state] = a as unknown[];
    const g = fn as PyGlobal;
    if (!g || !g.call) throw new Error('first argument is not a rebuild function');
    const t = g.call((args as PyTuple) ?? Object.freeze([]));
    if (state instanceof Map && state.size > 0) throw new Error(`tensor subclass state (${[...state.keys()].join(', ')}) is not supported`);
    return t;
  });
  const orderedDict = global('collections', 'OrderedDict', (a) => {
    const d = new PyDict('collections.OrderedDict');
    const items = a[0];
    if (Array.isArray(items)) for (const kv of items) if (Array.isArray(kv) && kv.length === 2) d.set(kv[0], kv[1]);
    return d;
  });
  const codecsEncode = global('_codecs', 'encode', (a) => {
    const [s, enc] = a as [unknown, unknown];
    if (typeof s !== 'string') throw new Error('expects a string');
    const e = typeof enc === 'string' ? enc.toLowerCase() : 'utf-8';
    return new Uint8Array(Buffer.from(s, e === 'latin1' || e === 'latin-1' || e === 'iso-8859-1' ? 'latin1' : 'utf8'));
  });
  const set = global('builtins', 'set', (a) => new Set(Array.isArray(a[0]) ? a[0] : []));
  const frozenset = global('builtins', 'frozenset', (a) => new Set(Array.isArray(a[0]) ? a[0] : []));
  const torchSize = global('torch', 'Size', (a) => Object.freeze([...((a[0] as unknown[]) ?? [])]));
  const device = global('torch', 'device', (a) => `device(${a.map(String).join(':')})`);
  const table: Record<string, unknown> = {
    'torch._utils._rebuild_tensor_v2': tensorV2,
    'torch._utils._rebuild_tensor': tensorV1,
    'torch._utils._rebuild_parameter': parameter,
    'torch._utils._rebuild_parameter_with_state': parameterWithState,
    'torch._tensor._rebuild_from_type_v2': fromType,
    'torch.nn.parameter.Parameter': global('torch.nn.parameter', 'Parameter', (a) => a[0]),
    'collections.OrderedDict': orderedDict,
    '_codecs.encode': codecsEncode,
    'builtins.set': set,
    '__builtin__.set': set,
    'builtins.frozenset': frozenset,
    '__builtin__.frozenset': frozenset,
    'torch.Size': torchSize,
    'torch.device': device,
  };
  for (const [storageType, dtype] of Object.entries(STORAGE_DTYPES)) {
    table[`torch.${storageType}`] = { module: 'torch', name: storageType, storageType, dtype } satisfies PyGlobal & StorageType;
  }
  return (module: string, name: string) => table[`${module}.${name}`] as object | undefined;
}

function storageTypeOf(v: unknown, where: string): StorageType {
  const t = v as Partial<StorageType> & Partial<PyGlobal>;
  if (t && typeof t === 'object' && typeof t.storageType === 'string' && t.dtype) return t as StorageType;
  const label = t && typeof t === 'object' && 'module' in t ? `${t.module}.${t.name}` : String(v);
  throw new Error(`${where}: unsupported storage type ${label} (supported: ${Object.keys(STORAGE_DTYPES).join(', ')})`);
}

function swapBytes(bytes: Uint8Array, elemSize: number): void {
  if (elemSize === 1) return;
  for (let i = 0; i < bytes.length; i += elemSize) {
    for (let a = i, b = i + elemSize - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

/** Loads a `torch.save` file (zip or legacy format). Never executes anything from the file. */
export function loadTorchCheckpoint(path: string): TorchCheckpoint {
  if (ZipArchive.isZip(path)) return { value: loadZip(path), format: 'zip' };
  return { value: loadLegacy(path), format: 'legacy' };
}

function loadZip(path: string): unknown {
  const zip = ZipArchive.open(path);
  try {
    const pkl = zip.names().find((n) => n === 'data.pkl' || /^[^/]+\/data\.pkl$/.test(n));
    if (!pkl) {
      throw new CheckpointFormatError(path, `zip archive has no '<prefix>/data.pkl' entry: not a torch.save checkpoint (entries: ${zip.names().slice(0, 6).join(', ')})`);
    }
    const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
    if (zip.has(`${prefix}constants.pkl`) || zip.names().some((n) => n.startsWith(`${prefix}code/`))) {
      throw new CheckpointFormatError(path, 'this is a TorchScript archive (torch.jit.save, e.g. an OpenAI CLIP .pt), not a state dict: use the Hugging Face Hub weights (open_clip_model.safetensors) instead');
    }
    let bigEndian = false;
    if (zip.has(`${prefix}byteorder`)) {
      const order = Buffer.from(zip.read(`${prefix}byteorder`)).toString('latin1').trim();
      if (order !== 'little' && order !== 'big') throw new CheckpointFormatError(path, `unknown byte order '${order}'`, `${prefix}byteorder`);
      bigEndian = order === 'big';
    }
    const storages = new Map<string, Storage>();
    const persistentLoad = (pid: unknown): Storage => {
      if (!isTuple(pid) || pid[0] !== 'storage' || pid.length < 5) throw new Error(`unsupported persistent id ${JSON.stringify(pid)}`);
      const st = storageTypeOf(pid[1], `${path}: entry '${pkl}'`);
      const key = String(pid[2]);
      const numel = asInt(pid[4], 'storage numel');
      const cached = storages.get(key);
      if (cached) return cached;
      const entry = `${prefix}data/${key}`;
      const es = DTYPE_SIZES[st.dtype];
      if (!zip.has(entry)) throw new CheckpointFormatError(path, `storage '${key}' referenced by data.pkl is missing`, entry);
      const bytes = zip.read(entry);
      if (bytes.byteLength < numel * es) {
        throw new CheckpointFormatError(path, `storage has ${bytes.byteLength} bytes, fewer than ${numel} ${st.storageType} elements (${numel * es} bytes)`, entry);
      }
      if (bigEndian) swapBytes(bytes, es);
      const s: Storage = { key, dtype: st.dtype, bytes, numel };
      storages.set(key, s);
      return s;
    };
    const bytes = zip.read(pkl);
    return wrapErrors(path, pkl, () => unpickle(bytes, { where: `${path}: entry '${pkl}'`, findGlobal: makeFindGlobal(false), persistentLoad }).value);
  } finally {
    zip.close();
  }
}

function wrapErrors<T>(path: string, entry: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof PickleError || e instanceof CheckpointFormatError) throw e;
    throw new CheckpointFormatError(path, (e as Error).message, entry);
  }
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/** Pre-1.6 format: pickles of magic, protocol, sys_info, the object, the sorted storage keys; then the storages. */
function loadLegacy(path: string): unknown {
  const fd = openSync(path, 'r');
  let bytes: Uint8Array;
  try {
    const size = fstatSync(fd).size;
    bytes = new Uint8Array(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, bytes, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
  } finally {
    closeSync(fd);
  }
  if (bytes.length < 2 || bytes[0] !== 0x80) {
    throw new CheckpointFormatError(path, 'not a PyTorch checkpoint: neither a zip archive (torch >= 1.6) nor a legacy pickle stream');
  }
  const plain = { where: `${path}: legacy header`, findGlobal: () => undefined };
  let magic: unknown;
  let p: number;
  try {
    ({ value: magic, end: p } = unpickle(bytes, plain, 0));
  } catch (e) {
    throw new CheckpointFormatError(path, `not a PyTorch checkpoint (${(e as Error).message})`);
  }
  if (BigInt(typeof magic === 'number' || typeof magic === 'bigint' ? magic : -1) !== LEGACY_MAGIC) {
    throw new CheckpointFormatError(path, 'not a PyTorch checkpoint: a pickle, but without the legacy torch magic number (a plain pickle is not a checkpoint)');
  }
  ({ end: p } = unpickle(bytes, plain, p)); // protocol version
  const sysInfo = unpickle(bytes, { ...plain, where: `${path}: sys_info` }, p);
  p = sysInfo.end;
  const info = sysInfo.value instanceof Map ? sysInfo.value : new Map();
  if (info.get('little_endian') === false) throw new CheckpointFormatError(path, 'big-endian legacy checkpoints are not supported');
  const objStart = p;
  // Dry run over the object to find where it ends; storages come after the key list.
  const requested = new Map<string, { dtype: DType; numel: number }>();
  const dry = unpickle(bytes, {
    where: `${path}: legacy object`,
    findGlobal: makeFindGlobal(true),
    persistentLoad: (pid) => {
      if (!isTuple(pid) || pid[0] !== 'storage') throw new Error(`unsupported persistent id ${JSON.stringify(pid)}`);
      const st = storageTypeOf(pid[1], `${path}: legacy object`);
      requested.set(String(pid[2]), { dtype: st.dtype, numel: asInt(pid[4], 'storage numel') });
      return { key: String(pid[2]), dtype: st.dtype, bytes: new Uint8Array(0), numel: 0 };
    },
  }, objStart);
  const keysRes = unpickle(bytes, { ...plain, where: `${path}: storage keys` }, dry.end);
  if (!Array.isArray(keysRes.value)) throw new CheckpointFormatError(path, 'legacy storage key list is not a list');
  p = keysRes.end;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const roots = new Map<string, Storage>();
  for (const k of keysRes.value as unknown[]) {
    const key = String(k);
    const req = requested.get(key);
    if (!req) throw new CheckpointFormatError(path, `storage '${key}' is stored but never referenced`);
    if (p + 8 > bytes.length) throw new CheckpointFormatError(path, `truncated before storage '${key}'`);
    const numel = Number(view.getBigInt64(p, true));
    p += 8;
    const n = numel * DTYPE_SIZES[req.dtype];
    if (p + n > bytes.length) throw new CheckpointFormatError(path, `storage '${key}' needs ${n} bytes, only ${bytes.length - p} left (truncated file)`);
    roots.set(key, { key, dtype: req.dtype, bytes: bytes.slice(p, p + n), numel });
    p += n;
  }
  const real = unpickle(bytes, {
    where: `${path}: legacy object`,
    findGlobal: makeFindGlobal(false),
    persistentLoad: (pid) => {
      const t = pid as unknown[];
      const root = roots.get(String(t[2]));
      if (!root) throw new Error(`storage '${String(t[2])}' is referenced but not stored`);
      const viewMeta = t[5];
      if (isTuple(viewMeta) && viewMeta.length === 3) {
        const off = asInt(viewMeta[1], 'view offset');
        const sz = asInt(viewMeta[2], 'view size');
        const es = DTYPE_SIZES[root.dtype];
        if ((off + sz) > root.numel) throw new Error(`storage view '${String(viewMeta[0])}' [${off}, ${off + sz}) exceeds storage '${root.key}' (${root.numel})`);
        return { key: String(viewMeta[0]), dtype: root.dtype, bytes: root.bytes.subarray(off * es, (off + sz) * es), numel: sz };
      }
      return root;
    },
  }, objStart);
  return real.value;
}
