/**
 * The transport's wire format: a 16-byte header (u32 sequence, u32 step, u64 body length) and a
 * body. Sequence 0xffffffff marks a control message (a JSON object). `FrameReader` cuts frames out
 * of a byte stream in linear time and refuses a frame larger than its bound as soon as the
 * header arrives, before any of the body is buffered.
 */

export const HEADER = 16;
export const CONTROL = 0xffffffff;
/** The largest control message (rendezvous hello, table, abort) accepted. */
export const MAX_CONTROL_BYTES = 1 << 16;

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

export function header(seq: number, step: number, length: number): Buffer {
  const head = Buffer.alloc(HEADER);
  head.writeUInt32LE(seq >>> 0, 0);
  head.writeUInt32LE(step >>> 0, 4);
  head.writeBigUInt64LE(BigInt(length), 8);
  return head;
}

export function controlFrame(msg: Record<string, unknown>): Buffer {
  const body = Buffer.from(JSON.stringify(msg), 'utf8');
  if (body.length > MAX_CONTROL_BYTES) throw new FrameError(`control message of ${body.length} bytes exceeds ${MAX_CONTROL_BYTES}`);
  return Buffer.concat([header(CONTROL, 0, body.length), body]);
}

/** Parses a control body: a JSON object with a string `type`, or a FrameError. */
export function parseControl(body: Buffer): Record<string, unknown> & { type: string } {
  let msg: unknown;
  try {
    msg = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new FrameError(`control message is not JSON (${(e as Error).message})`);
  }
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) throw new FrameError(`control message is not a JSON object (got ${msg === null ? 'null' : Array.isArray(msg) ? 'an array' : typeof msg})`);
  const type = (msg as { type?: unknown }).type;
  if (typeof type !== 'string') throw new FrameError('control message has no string "type"');
  return msg as Record<string, unknown> & { type: string };
}

export interface Frame {
  seq: number;
  step: number;
  /** Empty when the body went to a sink. */
  body: Buffer;
  /** The sink `sinkFor` gave, when the body was written there (not buffered). */
  sink?: BodySink;
}

/** Receives a body's bytes in order as they arrive (see float-sink.ts). */
export interface BodySink {
  write(src: Uint8Array, start: number, end: number): void;
}

const EMPTY = Buffer.alloc(0);

/**
 * Incremental frame parser. `push` returns the frames completed by a chunk; a header whose
 * length exceeds `maxBody(seq)` throws at once. Each body is allocated once at its declared
 * (bounded) size and filled by copying, so a frame costs O(its length) whatever the chunking;
 * or, when `sinkFor` names a sink for the frame (a receiver already waiting for it), its bytes go
 * to that sink as they arrive and nothing is allocated. `sinkFor` may throw to refuse the frame.
 */
export class FrameReader {
  private head = Buffer.alloc(HEADER);
  private headFill = 0;
  private body: Buffer | null = null;
  private bodyFill = 0;
  private sink: BodySink | null = null;
  private sinkLeft = 0;
  private seq = 0;
  private step = 0;

  constructor(
    private readonly maxBody: (seq: number) => number,
    private readonly sinkFor: (seq: number, step: number, length: number) => BodySink | null = () => null,
  ) {}

  /** True while a frame is partly received (a close now would cut it). */
  get midFrame(): boolean {
    return this.headFill > 0 || this.body !== null || this.sink !== null;
  }

  /** Bytes of the last pushed chunk that were consumed (less than its length after `maxFrames`). */
  consumed = 0;

  push(d: Buffer, maxFrames = Infinity): Frame[] {
    const out: Frame[] = [];
    let i = 0;
    while (i < d.length && out.length < maxFrames) {
      if (this.sink !== null) {
        const n = Math.min(this.sinkLeft, d.length - i);
        this.sink.write(d, i, i + n);
        this.sinkLeft -= n;
        i += n;
        if (this.sinkLeft === 0) {
          out.push({ seq: this.seq, step: this.step, body: EMPTY, sink: this.sink });
          this.sink = null;
        }
        continue;
      }
      if (this.body === null) {
        const n = Math.min(HEADER - this.headFill, d.length - i);
        d.copy(this.head, this.headFill, i, i + n);
        this.headFill += n;
        i += n;
        if (this.headFill < HEADER) break;
        this.seq = this.head.readUInt32LE(0);
        this.step = this.head.readUInt32LE(4);
        const len = this.head.readBigUInt64LE(8);
        const max = this.maxBody(this.seq);
        if (len > BigInt(max)) throw new FrameError(`frame declares ${len} bytes, more than the ${max} allowed`);
        this.headFill = 0;
        const sink = len > 0n ? this.sinkFor(this.seq, this.step, Number(len)) : null;
        if (sink) {
          this.sink = sink;
          this.sinkLeft = Number(len);
          continue;
        }
        this.body = Buffer.allocUnsafe(Number(len));
        this.bodyFill = 0;
      }
      const n = Math.min(this.body.length - this.bodyFill, d.length - i);
      d.copy(this.body, this.bodyFill, i, i + n);
      this.bodyFill += n;
      i += n;
      if (this.bodyFill === this.body.length) {
        out.push({ seq: this.seq, step: this.step, body: this.body });
        this.body = null;
      }
    }
    this.consumed = i;
    return out;
  }
}
