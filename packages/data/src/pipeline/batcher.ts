/**
 * The work of one data worker, as OpenCLIP's webdataset map stages and collate do it: load, decode +
 * transform each image, tokenize the captions, and stack `batchSize` samples into `[B,3,H,W]` floats and
 * `[B,ctx]` tokens. Samples that fail (missing part, empty caption, unreadable or corrupt image) are
 * skipped and reported instead of ending the run, and every batch carries the count of stream items
 * consumed so far (its cursor), which is what a resumed run skips.
 */
import type { Rng } from '@openclip/engine/rng';
import { deriveRng } from '../derive-rng.js';
import type { RawItem } from './sample-stream.js';
import type { SkipEvent } from './skip-stats.js';
import { DEFAULT_MAX_SKIP_RATIO, EpochHealth } from './epoch-health.js';
import type { TokenizeFn, TransformFn } from './specs.js';

export interface WorkerBatch {
  /** `[B, 3, H, W]` row-major. */
  images: Float32Array;
  imageShape: number[];
  /** `[B, contextLength]`; absent for sources without captions (image folders). */
  tokens?: Int32Array;
  tokenShape?: number[];
  /** Class labels when every sample has one (image folder, synthetic, webdataset `.cls`). */
  labels?: Int32Array;
  /** Sample keys (webdataset key, CSV row, file path), for logs and tests. */
  keys: string[];
  /** Stream items this worker consumed up to and including this batch. */
  cursor: number;
}

export interface BatcherOptions {
  batchSize: number;
  transform: TransformFn;
  tokenize: TokenizeFn | null;
  /** Batches to deliver, or null to run until the stream ends (the last batch may be partial). */
  quota: number | null;
  /** Stream items to discard first (resume). */
  skipItems: number;
  onSkip: (e: SkipEvent) => void;
  /** Samples prepared at once (default 4, libuv's thread pool size). */
  concurrency?: number;
  /** Batch arrays handed back by the consumer (`DataLoader.recycle`), reused before allocating. */
  pool?: Float32Array[];
  /** Allocate batch arrays in SharedArrayBuffer memory (worker threads: handing them over costs nothing). */
  shared?: boolean;
  /**
   * Seed of this epoch's augmentations: each sample gets its own generator from (augmentSeed, its
   * key), so random crops depend neither on which decode finishes first, nor on where a resumed
   * epoch starts, nor on how samples are split over ranks and workers.
   */
  augmentSeed?: number;
  /**
   * Stop when more than this fraction of the samples read this epoch could not be loaded
   * (default DEFAULT_MAX_SKIP_RATIO; 1 never stops for skips). Whatever it is, a full pass over
   * the worker's share that yields no loadable sample stops the epoch.
   */
  maxSkipRatio?: number;
}


interface Ready {
  key: string;
  image: { data: Float32Array; shape: number[] };
  text?: string;
  label?: number;
}

async function prepare(
  item: Extract<RawItem, { kind: 'sample' }>,
  needText: boolean,
  transform: TransformFn,
  onSkip: (e: SkipEvent) => void,
  out: Float32Array | undefined,
  rng: Rng | undefined,
): Promise<Ready | null> {
  if (item.missing) {
    onSkip({ reason: 'missing-part', where: item.where, message: `no ${item.missing}` });
    return null;
  }
  if (needText && (item.text === undefined || item.text.trim() === '')) {
    onSkip({ reason: 'empty-caption', where: item.where, message: 'caption is empty' });
    return null;
  }
  if (item.decoded && transform.decoded) {
    try {
      return { key: item.key, image: transform.decoded(item.decoded(), item.where, out, rng), text: item.text, label: item.label };
    } catch (e) {
      onSkip({ reason: 'corrupt-image', where: item.where, message: (e as Error).message });
      return null;
    }
  }
  let bytes: Uint8Array;
  try {
    bytes = await item.load();
  } catch (e) {
    onSkip({ reason: 'unreadable-file', where: item.where, message: (e as Error).message });
    return null;
  }
  try {
    const image = await transform(bytes, item.where, out, rng);
    return { key: item.key, image, text: item.text, label: item.label };
  } catch (e) {
    onSkip({ reason: 'corrupt-image', where: item.where, message: (e as Error).message });
    return null;
  }
}

/**
 * Batch memory: once the image size is known, each sample is transformed straight into its slot of
 * the batch array (`out`), so no per-sample array is allocated or copied.
 */
class BatchBuffer {
  images: Float32Array | null = null;
  shape: number[] | null = null;
  constructor(
    private readonly batchSize: number,
    private readonly pool: Float32Array[] = [],
    private readonly shared = false,
  ) {}

  /** A batch array: a recycled one of the right size if any (fresh ~40 MB arrays cost page faults and GC), else new. */
  private allocate(length: number): Float32Array {
    while (this.pool.length) {
      const a = this.pool.pop()!;
      if (a.length === length) return a;
    }
    return new Float32Array(this.shared ? new SharedArrayBuffer(length * 4) : new ArrayBuffer(length * 4));
  }

  /** The slot a sample would take (undefined until the first sample has fixed the size). */
  slot(i: number): Float32Array | undefined {
    if (!this.shape || i >= this.batchSize) return undefined;
    const per = this.shape.reduce((a, b) => a * b, 1);
    this.images ??= this.allocate(this.batchSize * per);
    return this.images.subarray(i * per, (i + 1) * per);
  }

  /** Moves sample images into slots 0..n-1 (in order), allocating the batch on first use. */
  place(ready: Ready[], firstNew: number): void {
    for (let i = firstNew; i < ready.length; i++) {
      const r = ready[i];
      if (!this.shape) this.shape = r.image.shape.slice();
      if (r.image.shape.join('x') !== this.shape.join('x')) {
        throw new Error(`image transform returned shape [${r.image.shape}] for ${r.key} but [${this.shape}] before; the transform must produce one size`);
      }
      const per = this.shape.reduce((a, b) => a * b, 1);
      if (!this.images) this.images = this.allocate(this.batchSize * per);
      const dst = this.images.subarray(i * per, (i + 1) * per);
      const src = r.image.data;
      const inPlace = src.buffer === this.images.buffer && src.byteOffset === dst.byteOffset && src.length === dst.length;
      // Samples after a failure were written one slot further on: move them down (never overlapping).
      if (!inPlace) dst.set(src);
      r.image = { data: dst, shape: this.shape };
    }
  }

  /** Hands out the filled batch array (trimmed to n samples) and starts a fresh one. */
  take(n: number): { images: Float32Array; shape: number[] } {
    const per = this.images!.length / this.batchSize;
    const images = n === this.batchSize ? this.images! : this.images!.subarray(0, n * per);
    this.images = null;
    return { images, shape: [n, ...this.shape!] };
  }
}

async function assemble(ready: Ready[], buffer: BatchBuffer, tokenize: TokenizeFn | null, cursor: number): Promise<WorkerBatch> {
  const { images, shape } = buffer.take(ready.length);
  const batch: WorkerBatch = { images, imageShape: shape, keys: ready.map((r) => r.key), cursor };
  if (tokenize) {
    const t = await tokenize(ready.map((r) => r.text ?? ''));
    if (t.shape[0] !== ready.length) throw new Error(`tokenizer returned ${t.shape[0]} rows for ${ready.length} captions`);
    batch.tokens = t.data;
    batch.tokenShape = t.shape;
  }
  if (ready.every((r) => r.label !== undefined)) batch.labels = Int32Array.from(ready.map((r) => r.label!));
  return batch;
}

/** FNV-1a hash of a sample key (32 bits). */
export function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Turns a worker's item stream into batches; stops after `quota` batches (train) or at the end of the stream (eval). */
export async function* produceBatches(stream: AsyncIterator<RawItem>, opts: BatcherOptions): AsyncGenerator<WorkerBatch> {
  let cursor = 0;
  for (; cursor < opts.skipItems; cursor++) {
    const r = await stream.next();
    if (r.done) return;
  }
  let delivered = 0;
  let ended = false;
  const health = new EpochHealth(opts.onSkip, opts.maxSkipRatio ?? DEFAULT_MAX_SKIP_RATIO);
  const onSkip = (e: SkipEvent) => health.skip(e);
  const buffer = new BatchBuffer(opts.batchSize, opts.pool, opts.shared);
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  while (!ended && (opts.quota === null || delivered < opts.quota)) {
    const ready: Ready[] = [];
    // Up to `concurrency` samples are in flight (decode overlaps resizing); results are kept in stream order.
    const inflight: Promise<Ready | null>[] = [];
    const settle = async () => {
      const r = await inflight.shift()!;
      if (r) {
        health.passLoaded++;
        ready.push(r);
        buffer.place(ready, ready.length - 1);
      }
      health.check();
    };
    while (ready.length < opts.batchSize) {
      if (ended || ready.length + inflight.length >= opts.batchSize || inflight.length >= concurrency) {
        if (!inflight.length) break;
        await settle();
        continue;
      }
      const r = await stream.next();
      if (r.done) {
        ended = true;
        continue;
      }
      cursor++;
      const item = r.value;
      if (item.kind === 'pass') {
        while (inflight.length) await settle(); // this pass's samples are all judged
        health.endPass();
        continue;
      }
      if (item.kind === 'sample') {
        health.read++;
        health.passRead++;
      }
      if (item.kind === 'skip') {
        onSkip({ reason: item.reason, where: item.where, message: item.message });
        health.check();
        continue;
      }
      // Tentative slot: after everything kept or pending; a failure shifts later samples down in place().
      const rng = opts.augmentSeed === undefined ? undefined : deriveRng(opts.augmentSeed, keyHash(item.key));
      inflight.push(prepare(item, opts.tokenize !== null, opts.transform, onSkip, buffer.slot(ready.length + inflight.length), rng));
    }
    if (ready.length === 0) break;
    if (ready.length < opts.batchSize && opts.quota !== null) {
      throw new Error(`the data stream ended after ${delivered} of ${opts.quota} batches; too few valid samples`);
    }
    yield await assemble(ready, buffer, opts.tokenize, cursor);
    delivered++;
  }
}
