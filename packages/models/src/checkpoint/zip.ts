/**
 * A minimal ZIP reader for PyTorch's `torch.save` archives (the default format since torch 1.6):
 * reads the central directory (with ZIP64 records when present) and returns entries by name,
 * read positionally from the file so a multi-gigabyte checkpoint is never loaded whole.
 * Entries may be stored (what torch writes) or deflated.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { crc32, inflateRawSync } from 'node:zlib';

export class CheckpointFormatError extends Error {
  constructor(
    readonly file: string,
    message: string,
    readonly entry?: string,
  ) {
    super(`${file}${entry !== undefined ? `: entry '${entry}'` : ''}: ${message}`);
    this.name = 'CheckpointFormatError';
  }
}

export interface ZipEntry {
  name: string;
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;

function u64(view: DataView, off: number): number {
  const v = view.getBigUint64(off, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`64-bit value ${v} is too large`);
  return Number(v);
}

/** A ZIP archive opened for positional reads. */
export class ZipArchive {
  private fd: number | null;
  readonly entries: Map<string, ZipEntry>;
  readonly size: number;

  private constructor(readonly path: string, fd: number, size: number, entries: Map<string, ZipEntry>) {
    this.fd = fd;
    this.size = size;
    this.entries = entries;
  }

  /** True when the file starts with a ZIP local-file header (what torch.save writes first). */
  static isZip(path: string): boolean {
    const fd = openSync(path, 'r');
    try {
      const b = Buffer.alloc(4);
      return readSync(fd, b, 0, 4, 0) === 4 && b.readUInt32LE(0) === SIG_LOCAL;
    } finally {
      closeSync(fd);
    }
  }

  static open(path: string): ZipArchive {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const entries = readCentralDirectory(path, fd, size);
      return new ZipArchive(path, fd, size, entries);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  /** The entry's bytes (a fresh, 8-byte-aligned buffer). Checks the CRC-32 when `verify` is set. */
  read(name: string, verify = true): Uint8Array {
    if (this.fd === null) throw new CheckpointFormatError(this.path, 'archive is closed', name);
    const e = this.entries.get(name);
    if (!e) throw new CheckpointFormatError(this.path, `no such entry in the archive (entries: ${this.names().slice(0, 8).join(', ')}${this.entries.size > 8 ? ', ...' : ''})`, name);
    const local = Buffer.alloc(30);
    readExactly(this.fd, local, e.localHeaderOffset, this.path, name);
    if (local.readUInt32LE(0) !== SIG_LOCAL) {
      throw new CheckpointFormatError(this.path, `bad local header signature at byte ${e.localHeaderOffset}`, name);
    }
    const dataStart = e.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    if (dataStart + e.compressedSize > this.size) {
      throw new CheckpointFormatError(this.path, `data [${dataStart}, ${dataStart + e.compressedSize}) runs past the end of the file (${this.size} bytes; truncated?)`, name);
    }
    let out: Uint8Array;
    if (e.method === 0) {
      if (e.compressedSize !== e.size) throw new CheckpointFormatError(this.path, `stored entry has compressed size ${e.compressedSize} != size ${e.size}`, name);
      out = new Uint8Array(new ArrayBuffer(e.size));
      readExactly(this.fd, out, dataStart, this.path, name);
    } else if (e.method === 8) {
      const packed = Buffer.alloc(e.compressedSize);
      readExactly(this.fd, packed, dataStart, this.path, name);
      let inflated: Buffer;
      try {
        // never inflate past the declared size: a small entry claiming 100 bytes may expand to gigabytes
        inflated = inflateRawSync(packed, { maxOutputLength: Math.max(1, e.size) });
      } catch (err) {
        const tooBig = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
        throw new CheckpointFormatError(this.path, tooBig ? `inflates to more than its declared ${e.size} bytes (corrupt or hostile archive); refused` : `cannot inflate: ${(err as Error).message}`, name);
      }
      if (inflated.byteLength !== e.size) throw new CheckpointFormatError(this.path, `inflated to ${inflated.byteLength} bytes, expected ${e.size}`, name);
      out = new Uint8Array(new ArrayBuffer(e.size));
      out.set(inflated);
    } else {
      throw new CheckpointFormatError(this.path, `unsupported compression method ${e.method} (only stored and deflate are supported)`, name);
    }
    if (verify) {
      const c = crc32(out) >>> 0;
      if (c !== e.crc32) throw new CheckpointFormatError(this.path, `CRC-32 mismatch: data has ${hex8(c)}, directory says ${hex8(e.crc32)} (corrupted file)`, name);
    }
    return out;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function readExactly(fd: number, buf: Uint8Array, position: number, file: string, entry?: string): void {
  let off = 0;
  while (off < buf.byteLength) {
    const n = readSync(fd, buf, off, buf.byteLength - off, position + off);
    if (n === 0) throw new CheckpointFormatError(file, `unexpected end of file at byte ${position + off}`, entry);
    off += n;
  }
}

function readCentralDirectory(path: string, fd: number, size: number): Map<string, ZipEntry> {
  if (size < 22) throw new CheckpointFormatError(path, `file is ${size} bytes, too short to be a ZIP archive`);
  // The end-of-central-directory record sits in the last 22 + (up to 65535 comment) bytes.
  const tailLen = Math.min(size, 22 + 65535 + 20);
  const tail = Buffer.alloc(tailLen);
  readExactly(fd, tail, size - tailLen, path);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === SIG_EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new CheckpointFormatError(path, 'no ZIP end-of-central-directory record (truncated or not a zip archive)');
  let count = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || tail.readUInt32LE(loc) !== SIG_EOCD64_LOCATOR) {
      throw new CheckpointFormatError(path, 'ZIP64 end-of-central-directory locator missing');
    }
    const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
    const eocd64Off = u64(view, loc + 8);
    const rec = Buffer.alloc(56);
    readExactly(fd, rec, eocd64Off, path);
    if (rec.readUInt32LE(0) !== SIG_EOCD64) throw new CheckpointFormatError(path, `bad ZIP64 end-of-central-directory signature at byte ${eocd64Off}`);
    const rv = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
    count = u64(rv, 32);
    cdSize = u64(rv, 40);
    cdOffset = u64(rv, 48);
  }
  if (cdOffset + cdSize > size) {
    throw new CheckpointFormatError(path, `central directory [${cdOffset}, ${cdOffset + cdSize}) lies outside the file (${size} bytes)`);
  }
  const cd = Buffer.alloc(cdSize);
  readExactly(fd, cd, cdOffset, path);
  const view = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdSize || cd.readUInt32LE(p) !== SIG_CENTRAL) {
      throw new CheckpointFormatError(path, `central directory entry ${i} is malformed (offset ${cdOffset + p})`);
    }
    const method = cd.readUInt16LE(p + 10);
    const crc = cd.readUInt32LE(p + 16);
    let compressedSize = cd.readUInt32LE(p + 20);
    let uncompressed = cd.readUInt32LE(p + 24);
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    let localHeaderOffset = cd.readUInt32LE(p + 42);
    if (p + 46 + nameLen + extraLen + commentLen > cdSize) {
      throw new CheckpointFormatError(path, `central directory entry ${i} overruns the directory (corrupted file)`);
    }
    const name = cd.toString('utf8', p + 46, p + 46 + nameLen);
    // ZIP64 extended information: only the fields whose 32-bit value is saturated are present, in this order.
    let x = p + 46 + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = cd.readUInt16LE(x);
      const len = cd.readUInt16LE(x + 2);
      if (x + 4 + len > xEnd) throw new CheckpointFormatError(path, `extra field of entry '${name}' overruns its record (corrupted file)`);
      if (id === 0x0001) {
        let q = x + 4;
        const need = (uncompressed === 0xffffffff ? 8 : 0) + (compressedSize === 0xffffffff ? 8 : 0) + (localHeaderOffset === 0xffffffff ? 8 : 0);
        if (need > len) throw new CheckpointFormatError(path, `ZIP64 extra field of entry '${name}' is too short (corrupted file)`);
        if (uncompressed === 0xffffffff) { uncompressed = u64(view, q); q += 8; }
        if (compressedSize === 0xffffffff) { compressedSize = u64(view, q); q += 8; }
        if (localHeaderOffset === 0xffffffff) { localHeaderOffset = u64(view, q); q += 8; }
      }
      x += 4 + len;
    }
    entries.set(name, { name, method, crc32: crc, compressedSize, size: uncompressed, localHeaderOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}
