/**
 * Writes `torch.save`-compatible zip checkpoints (`archive/data.pkl`, `archive/data/<key>`,
 * `archive/version`, `archive/byteorder`), so a state dict can be published as
 * `open_clip_pytorch_model.bin` next to the safetensors file, as OpenCLIP's push_to_hf_hub does.
 * Values: null, booleans, numbers (integers stay ints), bigints, strings, arrays (lists),
 * `torchTuple(...)`, Maps/PyDicts (dicts; `collections.OrderedDict` when className says so),
 * tensors (RawTensor) and explicit strided views (`TorchTensorView`) over shared storages.
 */
import { crc32 } from 'node:zlib';
import { writeFileAtomic } from '@openclip/common';
import { DTYPE_SIZES, type DType, type RawTensor, type TensorData } from '@openclip/engine/safetensors';
import { PyDict } from './pickle.js';
import { STORAGE_DTYPES } from './torch-load.js';

/** A tensor as a view (offset, shape, stride in elements) into a storage shared by key. */
export interface TorchTensorView {
  kind: 'view';
  storage: { key: string; dtype: DType; data: TensorData };
  offset: number;
  shape: number[];
  stride: number[];
}

/** Marks an array to be written as a tuple. */
export function torchTuple(...items: unknown[]): readonly unknown[] {
  return Object.freeze(items);
}

const STORAGE_OF: Record<string, string> = Object.fromEntries(Object.entries(STORAGE_DTYPES).map(([k, v]) => [v, k]));

class PickleWriter {
  private parts: number[] = [];
  private memo = new Map<string, number>();
  readonly storages = new Map<string, { dtype: DType; data: TensorData }>();
  private nextKey = 0;
  private storageKeys = new Map<TensorData, string>();

  /** Legacy (pre-1.6) persistent ids carry a sixth element, the view metadata (None here). */
  constructor(private readonly legacy = false) {}

  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
  private op(...b: number[]) {
    for (const x of b) this.parts.push(x);
  }
  private u32(n: number) {
    this.op(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }
  private str(s: string) {
    // BINUNICODE (protocol 2, as torch.save writes; torch's weights-only loader rejects SHORT_BINUNICODE).
    const b = Buffer.from(s, 'utf8');
    this.op(0x58);
    this.u32(b.length);
    for (const x of b) this.parts.push(x);
  }
  private global(module: string, name: string) {
    const key = `${module}\n${name}`;
    const m = this.memo.get(key);
    if (m !== undefined) {
      this.op(0x6a);
      this.u32(m);
      return;
    }
    this.op(0x63, ...Buffer.from(`${module}\n${name}\n`, 'latin1'));
    const idx = this.memo.size;
    this.memo.set(key, idx);
    this.op(0x72);
    this.u32(idx);
  }
  private int(n: number | bigint) {
    if (typeof n === 'number' && n >= 0 && n < 256) this.op(0x4b, n);
    else if (typeof n === 'number' && n >= -(2 ** 31) && n < 2 ** 31) {
      this.op(0x4a);
      this.u32(n >>> 0);
    } else {
      let v = BigInt(n);
      const out: number[] = [];
      for (;;) {
        out.push(Number(v & 0xffn));
        v >>= 8n;
        const signBit = (out[out.length - 1] & 0x80) !== 0;
        if ((v === 0n && !signBit) || (v === -1n && signBit)) break;
      }
      this.op(0x8a, out.length, ...out);
    }
  }
  private storageKey(dtype: DType, data: TensorData, preferred?: string): string {
    const existing = this.storageKeys.get(data);
    if (existing !== undefined) return existing;
    const key = preferred ?? String(this.nextKey++);
    this.storageKeys.set(data, key);
    this.storages.set(key, { dtype, data });
    return key;
  }
  private tensor(dtype: DType, data: TensorData, offset: number, shape: number[], stride: number[], preferredKey?: string) {
    const st = STORAGE_OF[dtype];
    if (!st) throw new Error(`dtype ${dtype} has no torch storage type`);
    const key = this.storageKey(dtype, data, preferredKey);
    const numel = data.byteLength / DTYPE_SIZES[dtype];
    this.global('torch._utils', '_rebuild_tensor_v2');
    this.op(0x28); // MARK (args tuple)
    this.op(0x28); // MARK (persistent id tuple)
    this.str('storage');
    this.global('torch', st);
    this.str(key);
    this.str('cpu');
    this.int(numel);
    if (this.legacy) this.op(0x4e);
    this.op(0x74, 0x51); // TUPLE, BINPERSID
    this.int(offset);
    this.value(torchTuple(...shape));
    this.value(torchTuple(...stride));
    this.op(0x89); // requires_grad False
    this.global('collections', 'OrderedDict');
    this.op(0x29, 0x52); // () REDUCE -> empty backward hooks
    this.op(0x74, 0x52); // TUPLE, REDUCE
  }
  value(v: unknown): void {
    if (v === null || v === undefined) this.op(0x4e);
    else if (v === true) this.op(0x88);
    else if (v === false) this.op(0x89);
    else if (typeof v === 'bigint') this.int(v);
    else if (typeof v === 'number') {
      if (Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER && !Object.is(v, -0)) this.int(v);
      else {
        const b = Buffer.alloc(8);
        b.writeDoubleBE(v);
        this.op(0x47, ...b);
      }
    } else if (typeof v === 'string') this.str(v);
    else if (v instanceof Uint8Array && !('dtype' in v)) {
      this.op(0x42);
      this.u32(v.length);
      for (const x of v) this.parts.push(x);
    } else if (Array.isArray(v)) {
      if (Object.isFrozen(v)) {
        this.op(0x28);
        for (const x of v) this.value(x);
        this.op(0x74);
      } else {
        this.op(0x5d, 0x28);
        for (const x of v) this.value(x);
        this.op(0x65);
      }
    } else if (v instanceof Map) {
      if (v instanceof PyDict && v.className === 'collections.OrderedDict') {
        this.global('collections', 'OrderedDict');
        this.op(0x29, 0x52);
      } else this.op(0x7d);
      if (v.size) {
        this.op(0x28);
        for (const [k, x] of v) {
          this.value(k);
          this.value(x);
        }
        this.op(0x75);
      }
    } else if (typeof v === 'object' && (v as TorchTensorView).kind === 'view') {
      const t = v as TorchTensorView;
      this.tensor(t.storage.dtype, t.storage.data, t.offset, t.shape, t.stride, t.storage.key);
    } else if (typeof v === 'object' && 'dtype' in (v as object) && 'data' in (v as object)) {
      const t = v as RawTensor;
      const stride = new Array<number>(t.shape.length);
      let s = 1;
      for (let d = t.shape.length - 1; d >= 0; d--) {
        stride[d] = s;
        s *= t.shape[d];
      }
      this.tensor(t.dtype, t.data, 0, t.shape, stride);
    } else throw new Error(`cannot pickle ${Object.prototype.toString.call(v)}`);
  }
  finish(v: unknown): Uint8Array {
    this.op(0x80, 2);
    this.value(v);
    this.op(0x2e);
    return this.bytes();
  }
}

interface ZipItem {
  name: string;
  data: Uint8Array;
}

/** Builds a stored (uncompressed) zip with 64-byte-aligned entry data, as torch writes; `zip64` forces ZIP64 records. */
export function buildZip(items: ZipItem[], options: { zip64?: boolean } = {}): Uint8Array {
  return Buffer.concat(buildZipChunks(items, options));
}

/** The zip as a list of chunks (entry data is not copied). */
export function buildZipChunks(items: ZipItem[], options: { zip64?: boolean } = {}): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  const z64 = options.zip64 ?? false;
  for (const it of items) {
    const name = Buffer.from(it.name, 'utf8');
    const crc = crc32(it.data) >>> 0;
    const headerLen = 30 + name.length;
    const z64Local = z64 ? 20 : 0;
    const pad = (64 - ((offset + headerLen + z64Local + 4) % 64)) % 64;
    const extra = Buffer.alloc(z64Local + 4 + pad);
    let e = 0;
    if (z64) {
      extra.writeUInt16LE(0x0001, 0);
      extra.writeUInt16LE(16, 2);
      extra.writeBigUInt64LE(BigInt(it.data.length), 4);
      extra.writeBigUInt64LE(BigInt(it.data.length), 12);
      e = 20;
    }
    extra.writeUInt16LE(0x4650, e); // padding record ("FP"), like torch's alignment padding
    extra.writeUInt16LE(pad, e + 2);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(z64 ? 45 : 20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(z64 ? 0xffffffff : it.data.length, 18);
    local.writeUInt32LE(z64 ? 0xffffffff : it.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(extra.length, 28);
    chunks.push(local, name, extra, it.data);
    const cExtra = Buffer.alloc(z64 ? 28 : 0);
    if (z64) {
      cExtra.writeUInt16LE(0x0001, 0);
      cExtra.writeUInt16LE(24, 2);
      cExtra.writeBigUInt64LE(BigInt(it.data.length), 4);
      cExtra.writeBigUInt64LE(BigInt(it.data.length), 12);
      cExtra.writeBigUInt64LE(BigInt(offset), 20);
    }
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(z64 ? 45 : 20, 4);
    c.writeUInt16LE(z64 ? 45 : 20, 6);
    c.writeUInt16LE(0x0800, 8);
    c.writeUInt32LE(crc, 16);
    c.writeUInt32LE(z64 ? 0xffffffff : it.data.length, 20);
    c.writeUInt32LE(z64 ? 0xffffffff : it.data.length, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt16LE(cExtra.length, 30);
    c.writeUInt32LE(z64 ? 0xffffffff : offset, 42);
    central.push(c, name, cExtra);
    offset += local.length + name.length + extra.length + it.data.length;
  }
  const cdOffset = offset;
  const cdSize = central.reduce((a, b) => a + b.length, 0);
  const tail: Uint8Array[] = [];
  if (z64) {
    const r = Buffer.alloc(56);
    r.writeUInt32LE(0x06064b50, 0);
    r.writeBigUInt64LE(44n, 4);
    r.writeUInt16LE(45, 12);
    r.writeUInt16LE(45, 14);
    r.writeBigUInt64LE(BigInt(items.length), 24);
    r.writeBigUInt64LE(BigInt(items.length), 32);
    r.writeBigUInt64LE(BigInt(cdSize), 40);
    r.writeBigUInt64LE(BigInt(cdOffset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(cdOffset + cdSize), 8);
    loc.writeUInt32LE(1, 16);
    tail.push(r, loc);
  }
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(z64 ? 0xffff : items.length, 8);
  eocd.writeUInt16LE(z64 ? 0xffff : items.length, 10);
  eocd.writeUInt32LE(z64 ? 0xffffffff : cdSize, 12);
  eocd.writeUInt32LE(z64 ? 0xffffffff : cdOffset, 16);
  return [...chunks, ...central, ...tail, eocd];
}

/** The legacy (`_use_new_zipfile_serialization=False`) stream: header pickles, the object, the keys, then each storage. */
function serializeLegacy(value: unknown): Uint8Array {
  const single = (v: unknown) => new PickleWriter().finish(v);
  const sysInfo = new Map<unknown, unknown>([
    ['protocol_version', 1001],
    ['little_endian', true],
    ['type_sizes', new Map<unknown, unknown>([['short', 2], ['int', 4], ['long', 4]])],
  ]);
  const w = new PickleWriter(true);
  const obj = w.finish(value);
  const keys = [...w.storages.keys()].sort();
  const parts: Uint8Array[] = [single(0x1950a86a20f9469cfc6cn), single(1001), single(sysInfo), obj, single(keys)];
  for (const k of keys) {
    const s = w.storages.get(k)!;
    const n = Buffer.alloc(8);
    n.writeBigInt64LE(BigInt(s.data.byteLength / DTYPE_SIZES[s.dtype]));
    parts.push(n, new Uint8Array(s.data.buffer, s.data.byteOffset, s.data.byteLength));
  }
  return Buffer.concat(parts);
}

/**
 * Serialises a value tree to torch.save bytes: the zip format (archive prefix `archive`;
 * `zip64` forces ZIP64 records) or, with `legacy`, the pre-1.6 stream format.
 */
export function serializeTorchCheckpoint(value: unknown, options: { zip64?: boolean; prefix?: string; legacy?: boolean } = {}): Uint8Array {
  if (options.legacy) return serializeLegacy(value);
  return Buffer.concat(torchZipChunks(value, options));
}

function torchZipChunks(value: unknown, options: { zip64?: boolean; prefix?: string }): Uint8Array[] {
  const w = new PickleWriter();
  const pkl = w.finish(value);
  const prefix = options.prefix ?? 'archive';
  const items: ZipItem[] = [{ name: `${prefix}/data.pkl`, data: pkl }, { name: `${prefix}/byteorder`, data: Buffer.from('little') }];
  for (const [key, s] of w.storages) items.push({ name: `${prefix}/data/${key}`, data: new Uint8Array(s.data.buffer, s.data.byteOffset, s.data.byteLength) });
  items.push({ name: `${prefix}/version`, data: Buffer.from('3\n') });
  return buildZipChunks(items, options);
}

/** Writes a state dict (an OrderedDict of tensors) as `torch.save` would, atomically. */
export function saveTorchStateDict(path: string, stateDict: Map<string, RawTensor>): void {
  const d = new PyDict('collections.OrderedDict');
  for (const [k, v] of stateDict) d.set(k, v);
  writeFileAtomic(path, torchZipChunks(d, {}));
}
