/**
 * Reader and writer for the safetensors format (the format of OpenCLIP's
 * `open_clip_model.safetensors` and of this project's checkpoints): an 8-byte little-endian
 * header length, a JSON header, then the raw little-endian tensor bytes.
 *
 * Reads are positional (`fs.readSync` at each tensor's offset), so a large file is never
 * loaded whole. Writes go to a temporary file that is fsynced and then renamed over the
 * target, so an interrupted write never leaves a half file where a good one was.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { writeFileAtomic } from '@openclip/common';

export type DType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

export const DTYPE_SIZES: Readonly<Record<DType, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
};

export type TensorData =
  | Float64Array | Float32Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array
  | BigUint64Array | Uint32Array | Uint8Array;

/** A tensor as stored: F16 and BF16 come back as their raw Uint16 bits, BOOL as Uint8. */
export interface RawTensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
}

export interface TensorEntry {
  name: string;
  dtype: DType;
  shape: number[];
  /** Byte offsets into the data section, as in the header. */
  begin: number;
  end: number;
}

export class SafetensorsError extends Error {
  constructor(
    readonly file: string,
    message: string,
    readonly tensor?: string,
  ) {
    super(`${file}${tensor !== undefined ? `: tensor '${tensor}'` : ''}: ${message}`);
    this.name = 'SafetensorsError';
  }
}

const MAX_HEADER = 100 * 1024 * 1024;

/** Parses and validates a header against the size of the data section. */
export function parseHeader(
  file: string,
  headerBytes: Uint8Array,
  dataSize: number,
): { entries: Map<string, TensorEntry>; metadata: Record<string, string> } {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    throw new SafetensorsError(file, `header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new SafetensorsError(file, 'header must be a JSON object');
  }
  const entries = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new SafetensorsError(file, '__metadata__ must be an object of strings');
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new SafetensorsError(file, `__metadata__ value of '${k}' is not a string`);
      }
      metadata = value as Record<string, string>;
      continue;
    }
    const v = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (v === null || typeof v !== 'object') throw new SafetensorsError(file, 'entry is not an object', name);
    if (typeof v.dtype !== 'string' || !(v.dtype in DTYPE_SIZES)) {
      throw new SafetensorsError(file, `unknown dtype ${JSON.stringify(v.dtype)} (known: ${Object.keys(DTYPE_SIZES).join(', ')})`, name);
    }
    const dtype = v.dtype as DType;
    if (!Array.isArray(v.shape) || !v.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(file, `invalid shape ${JSON.stringify(v.shape)}`, name);
    }
    const shape = v.shape as number[];
    const offs = v.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new SafetensorsError(file, `invalid data_offsets ${JSON.stringify(offs)}`, name);
    }
    const [begin, end] = offs as [number, number];
    if (end < begin) throw new SafetensorsError(file, `data_offsets end ${end} < begin ${begin}`, name);
    if (end > dataSize) {
      throw new SafetensorsError(file, `data_offsets [${begin}, ${end}] out of range: data section has ${dataSize} bytes (truncated file?)`, name);
    }
    const numel = shape.reduce((a, b) => a * b, 1);
    if ((end - begin) !== numel * DTYPE_SIZES[dtype]) {
      throw new SafetensorsError(file, `byte length ${end - begin} does not match shape [${shape}] of ${dtype} (${numel * DTYPE_SIZES[dtype]} bytes)`, name);
    }
    entries.set(name, { name, dtype, shape, begin, end });
  }
  const sorted = [...entries.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of sorted) {
    if (e.begin < cursor) {
      const prev = sorted.find((p) => p !== e && p.begin < e.end && e.begin < p.end && p.end > p.begin);
      throw new SafetensorsError(file, `data_offsets [${e.begin}, ${e.end}] overlap${prev ? ` tensor '${prev.name}' [${prev.begin}, ${prev.end}]` : ' another tensor'}`, e.name);
    }
    if (e.begin > cursor) {
      throw new SafetensorsError(file, `hole in the data section: bytes [${cursor}, ${e.begin}) belong to no tensor`, e.name);
    }
    cursor = e.end;
  }
  if (cursor !== dataSize) {
    throw new SafetensorsError(file, `data section has ${dataSize} bytes but tensors cover ${cursor}`);
  }
  return { entries, metadata };
}

/** A typed-array view of `bytes` for `dtype` (F16/BF16 as raw Uint16, BOOL as Uint8); `bytes` must be aligned. */
export function typedArrayFor(dtype: DType, bytes: Uint8Array): TensorData {
  const b = bytes.buffer;
  const o = bytes.byteOffset;
  const n = bytes.byteLength / DTYPE_SIZES[dtype];
  switch (dtype) {
    case 'F64': return new Float64Array(b, o, n);
    case 'F32': return new Float32Array(b, o, n);
    case 'F16': case 'BF16': case 'U16': return new Uint16Array(b, o, n);
    case 'I64': return new BigInt64Array(b, o, n);
    case 'U64': return new BigUint64Array(b, o, n);
    case 'I32': return new Int32Array(b, o, n);
    case 'U32': return new Uint32Array(b, o, n);
    case 'I16': return new Int16Array(b, o, n);
    case 'I8': return new Int8Array(b, o, n);
    case 'U8': case 'BOOL': return new Uint8Array(b, o, n);
  }
}

/** IEEE half (binary16) bits to float. */
export function f16ToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) out[i] = sign * frac * 2 ** -24;
    else if (exp === 31) out[i] = frac ? NaN : sign * Infinity;
    else out[i] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

/** bfloat16 bits to float. */
export function bf16ToF32(bits: Uint16Array): Float32Array {
  const u = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i] << 16;
  return new Float32Array(u.buffer);
}

/** Float to IEEE half bits, rounding to nearest even. */
export function f32ToF16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < values.length; i++) {
    f[0] = values[i];
    const x = u[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 31) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      let h = mant >>> shift;
      const rem = mant & ((1 << shift) - 1);
      const half = 1 << (shift - 1);
      if (rem > half || (rem === half && h & 1)) h++;
      out[i] = sign | h;
      continue;
    }
    let h = (e << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent rounds up correctly
    out[i] = sign | h;
  }
  return out;
}

/** Float to bfloat16 bits, rounding to nearest even. */
export function f32ToBf16(values: Float32Array): Uint16Array {
  const u = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = u[i];
    if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) {
      out[i] = (x >>> 16) | 0x40;
      continue;
    }
    out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** Any stored floating or integer tensor as float32 (I64 values beyond 2^53 lose precision). */
export function toFloat32(t: RawTensor): Float32Array {
  switch (t.dtype) {
    case 'F32': return t.data as Float32Array;
    case 'F16': return f16ToF32(t.data as Uint16Array);
    case 'BF16': return bf16ToF32(t.data as Uint16Array);
    case 'I64': case 'U64': return Float32Array.from(t.data as BigInt64Array, (v) => Number(v));
    default: return Float32Array.from(t.data as ArrayLike<number>);
  }
}

/** Any stored integer tensor as int32, with a range check. */
export function toInt32(t: RawTensor, name = 'tensor'): Int32Array {
  if (t.dtype === 'I32') return t.data as Int32Array;
  if (t.dtype === 'I64' || t.dtype === 'U64') {
    const src = t.data as BigInt64Array;
    const out = new Int32Array(src.length);
    for (let i = 0; i < src.length; i++) {
      const v = Number(src[i]);
      if (v > 2147483647 || v < -2147483648) throw new Error(`${name}: value ${src[i]} does not fit int32`);
      out[i] = v;
    }
    return out;
  }
  if (t.dtype.startsWith('F') || t.dtype === 'BF16') throw new Error(`${name}: ${t.dtype} is not an integer dtype`);
  return Int32Array.from(t.data as ArrayLike<number>);
}

/** A safetensors file opened for positional reads. */
export class SafetensorsFile {
  private fd: number | null;
  readonly entries: Map<string, TensorEntry>;
  readonly metadata: Record<string, string>;
  private readonly dataStart: number;

  private constructor(readonly path: string, fd: number, entries: Map<string, TensorEntry>, metadata: Record<string, string>, dataStart: number) {
    this.fd = fd;
    this.entries = entries;
    this.metadata = metadata;
    this.dataStart = dataStart;
  }

  static open(path: string): SafetensorsFile {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size < 8) throw new SafetensorsError(path, `file is ${size} bytes, shorter than the 8-byte header length (truncated file)`);
      const lenBuf = Buffer.alloc(8);
      readExactly(fd, lenBuf, 0, path);
      const headerLen = lenBuf.readBigUInt64LE(0);
      if (headerLen > BigInt(size - 8)) {
        throw new SafetensorsError(path, `header length ${headerLen} is longer than the file (${size} bytes; truncated or not safetensors)`);
      }
      if (headerLen > BigInt(MAX_HEADER)) throw new SafetensorsError(path, `header length ${headerLen} exceeds ${MAX_HEADER} bytes`);
      const n = Number(headerLen);
      const header = Buffer.alloc(n);
      readExactly(fd, header, 8, path);
      const { entries, metadata } = parseHeader(path, header, size - 8 - n);
      return new SafetensorsFile(path, fd, entries, metadata, 8 + n);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  entry(name: string): TensorEntry {
    const e = this.entries.get(name);
    if (!e) throw new SafetensorsError(this.path, 'no such tensor in file', name);
    return e;
  }

  read(name: string): RawTensor {
    if (this.fd === null) throw new SafetensorsError(this.path, 'file is closed', name);
    const e = this.entry(name);
    const bytes = new Uint8Array(new ArrayBuffer(e.end - e.begin));
    readExactly(this.fd, bytes, this.dataStart + e.begin, this.path, name);
    return { dtype: e.dtype, shape: [...e.shape], data: typedArrayFor(e.dtype, bytes) };
  }

  /** Reads a tensor as float32 (converting F16, BF16 and integer dtypes). */
  readFloat32(name: string): { shape: number[]; data: Float32Array } {
    const t = this.read(name);
    return { shape: t.shape, data: toFloat32(t) };
  }

  readAll(): Map<string, RawTensor> {
    const out = new Map<string, RawTensor>();
    for (const k of this.entries.keys()) out.set(k, this.read(k));
    return out;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

function readExactly(fd: number, buf: Uint8Array, position: number, file: string, tensor?: string): void {
  let off = 0;
  while (off < buf.byteLength) {
    const n = readSync(fd, buf, off, buf.byteLength - off, position + off);
    if (n === 0) throw new SafetensorsError(file, `unexpected end of file at byte ${position + off}`, tensor);
    off += n;
  }
}

/** Reads a whole safetensors file: every tensor plus the metadata. */
export function loadSafetensors(path: string): { tensors: Map<string, RawTensor>; metadata: Record<string, string> } {
  const f = SafetensorsFile.open(path);
  try {
    return { tensors: f.readAll(), metadata: f.metadata };
  } finally {
    f.close();
  }
}

/** Parses safetensors bytes already in memory. */
export function parseSafetensors(bytes: Uint8Array, name = '<buffer>'): { tensors: Map<string, RawTensor>; metadata: Record<string, string> } {
  if (bytes.byteLength < 8) throw new SafetensorsError(name, `buffer is ${bytes.byteLength} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(bytes.byteLength - 8)) throw new SafetensorsError(name, `header length ${headerLen} is longer than the buffer (${bytes.byteLength} bytes)`);
  const n = Number(headerLen);
  const { entries, metadata } = parseHeader(name, bytes.subarray(8, 8 + n), bytes.byteLength - 8 - n);
  const tensors = new Map<string, RawTensor>();
  for (const e of entries.values()) {
    const copy = bytes.slice(8 + n + e.begin, 8 + n + e.end);
    tensors.set(e.name, { dtype: e.dtype, shape: [...e.shape], data: typedArrayFor(e.dtype, copy) });
  }
  return { tensors, metadata };
}

export interface TensorToWrite {
  dtype?: DType;
  shape: number[];
  data: TensorData;
}

function inferDtype(data: TensorData): DType {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Float64Array) return 'F64';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof BigInt64Array) return 'I64';
  if (data instanceof BigUint64Array) return 'U64';
  if (data instanceof Uint8Array) return 'U8';
  if (data instanceof Int8Array) return 'I8';
  if (data instanceof Int16Array) return 'I16';
  if (data instanceof Uint32Array) return 'U32';
  throw new Error('Uint16Array data is ambiguous (F16, BF16 or U16): give dtype explicitly');
}

function layout(tensors: Record<string, TensorToWrite> | Map<string, TensorToWrite>, metadata?: Record<string, string>) {
  const list = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const parts: { name: string; bytes: Uint8Array }[] = [];
  for (const [name, t] of list) {
    if (name === '__metadata__') throw new Error("a tensor cannot be named '__metadata__'");
    const dtype = t.dtype ?? inferDtype(t.data);
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel * DTYPE_SIZES[dtype] !== t.data.byteLength) {
      throw new Error(`tensor '${name}': ${t.data.byteLength} bytes of data for shape [${t.shape}] of ${dtype}`);
    }
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    offset += bytes.byteLength;
    parts.push({ name, bytes });
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.byteLength % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.byteLength));
  return { prefix, json, parts, total: 8 + json.byteLength + offset };
}

/** Serialises tensors (keys sorted) and metadata to safetensors bytes. */
export function serializeSafetensors(tensors: Record<string, TensorToWrite> | Map<string, TensorToWrite>, metadata?: Record<string, string>): Uint8Array {
  const { prefix, json, parts, total } = layout(tensors, metadata);
  const out = new Uint8Array(total);
  out.set(prefix, 0);
  out.set(json, 8);
  let o = 8 + json.byteLength;
  for (const p of parts) {
    out.set(p.bytes, o);
    o += p.bytes.byteLength;
  }
  return out;
}

/** Writes a safetensors file atomically (`writeFileAtomic` of @openclip/common). */
export function saveSafetensors(path: string, tensors: Record<string, TensorToWrite> | Map<string, TensorToWrite>, metadata?: Record<string, string>): void {
  const { prefix, json, parts } = layout(tensors, metadata);
  writeFileAtomic(path, [prefix, json, ...parts.map((p) => p.bytes)]);
}
