/**
 * TensorBoard event files (what `--report-to tensorboard` writes, like PyTorch's SummaryWriter):
 * TFRecord framing (length, masked CRC-32C of the length, payload, masked CRC-32C of the payload)
 * around `Event` protocol buffers carrying scalar `Summary` values. No dependency on TensorFlow.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli). */
export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC32C_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15 and add a constant. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** Minimal protocol-buffer writer for the few field types an Event needs. */
class ProtoWriter {
  private parts: Buffer[] = [];

  private varint(v: number | bigint): void {
    let x = BigInt(v);
    if (x < 0n) x += 1n << 64n;
    const bytes: number[] = [];
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x > 0n) b |= 0x80;
      bytes.push(b);
    } while (x > 0n);
    this.parts.push(Buffer.from(bytes));
  }

  private key(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  double(field: number, v: number): this {
    this.key(field, 1);
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    this.parts.push(b);
    return this;
  }

  float(field: number, v: number): this {
    this.key(field, 5);
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.parts.push(b);
    return this;
  }

  int64(field: number, v: number): this {
    this.key(field, 0);
    this.varint(v);
    return this;
  }

  bytes(field: number, v: Uint8Array | string): this {
    const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v);
    this.key(field, 2);
    this.varint(b.length);
    this.parts.push(b);
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** One TFRecord: length, masked CRC of the length, payload, masked CRC of the payload. */
export function tfRecord(payload: Uint8Array): Buffer {
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(payload.length));
  const lenCrc = Buffer.alloc(4);
  lenCrc.writeUInt32LE(maskedCrc32c(len));
  const dataCrc = Buffer.alloc(4);
  dataCrc.writeUInt32LE(maskedCrc32c(payload));
  return Buffer.concat([len, lenCrc, Buffer.from(payload), dataCrc]);
}

/** Event { wall_time = 1; step = 2; file_version = 3 | summary = 5 }. */
function eventBytes(wallTime: number, step: number, body: { fileVersion?: string; scalars?: Record<string, number> }): Buffer {
  const w = new ProtoWriter().double(1, wallTime).int64(2, step);
  if (body.fileVersion) w.bytes(3, body.fileVersion);
  if (body.scalars) {
    const summary = new ProtoWriter();
    // Summary { repeated Value value = 1 }, Value { tag = 1; simple_value = 2 }
    for (const [tag, v] of Object.entries(body.scalars)) summary.bytes(1, new ProtoWriter().bytes(1, tag).float(2, v).finish());
    w.bytes(5, summary.finish());
  }
  return w.finish();
}

/** Appends scalar summaries to an event file in `logDir`, flushed after each write. */
export class TensorBoardWriter {
  readonly path: string;
  private fd: number | null;

  constructor(logDir: string, now = Date.now()) {
    mkdirSync(logDir, { recursive: true });
    this.path = join(logDir, `events.out.tfevents.${Math.floor(now / 1000)}.${hostname()}.${process.pid}.0`);
    this.fd = openSync(this.path, 'a');
    this.write(eventBytes(now / 1000, 0, { fileVersion: 'brain.Event:2' }));
  }

  private write(event: Uint8Array): void {
    if (this.fd === null) throw new Error(`${this.path}: writer is closed`);
    writeSync(this.fd, tfRecord(event));
  }

  /** Writes scalars (e.g. `{'train/loss': 0.5}`) at `step`. Non-finite values are written as is. */
  addScalars(scalars: Record<string, number>, step: number, wallTime = Date.now() / 1000): void {
    this.write(eventBytes(wallTime, step, { scalars }));
  }

  flush(): void {
    if (this.fd !== null) fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd !== null) {
      fsyncSync(this.fd);
      closeSync(this.fd);
    }
    this.fd = null;
  }
}
