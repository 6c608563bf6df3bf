/**
 * The work of one data worker, as OpenCLIP's webdataset map stages and collate do it: load, decode +
 * transform each image, tokenize the captions, and stack `batchSize` samples into `[B,3,H,W]` floats and
 * `[B,ctx]` tokens. Samples that fail (missing part, empty caption, unreadable or corrupt image) are
 * skipped and reported instead of ending the run, and every batch carries the count of stream items
 * consumed so far (its cursor), which is what a resumed run skips.
 */
import type { RawItem } from './sample-stream.js';
import type { SkipEvent } from './skip-stats.js';
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
}

interface Ready {
  key: string;
  image: { data: Float32Array; shape: number[] };
  text?: string;
  label?: number;
}

async function prepare(item: Extract<RawItem, { kind: 'sample' }>, needText: boolean, transform: TransformFn, onSkip: (e: SkipEvent) => void): Promise<Ready | null> {
  if (item.missing) {
    onSkip({ reason: 'missing-part', where: item.where, message: `no ${item.missing}` });
    return null;
  }
  if (needText && (item.text === undefined || item.text.trim() === '')) {
    onSkip({ reason: 'empty-caption', where: item.where, message: 'caption is empty' });
    return null;
  }
  let bytes: Uint8Array;
  try {
    bytes = await item.load();
  } catch (e) {
    onSkip({ reason: 'unreadable-file', where: item.where, message: (e as Error).message });
    return null;
  }
  try {
    const image = await transform(bytes, item.where);
    return { key: item.key, image, text: item.text, label: item.label };
  } catch (e) {
    onSkip({ reason: 'corrupt-image', where: item.where, message: (e as Error).message });
    return null;
  }
}

async function assemble(ready: Ready[], tokenize: TokenizeFn | null, cursor: number): Promise<WorkerBatch> {
  const shape = ready[0].image.shape;
  const per = ready[0].image.data.length;
  const images = new Float32Array(ready.length * per);
  ready.forEach((r, i) => {
    if (r.image.data.length !== per || r.image.shape.join('x') !== shape.join('x')) {
      throw new Error(`image transform returned shape [${r.image.shape}] for ${r.key} but [${shape}] for ${ready[0].key}; the transform must produce one size`);
    }
    images.set(r.image.data, i * per);
  });
  const batch: WorkerBatch = { images, imageShape: [ready.length, ...shape], keys: ready.map((r) => r.key), cursor };
  if (tokenize) {
    const t = await tokenize(ready.map((r) => r.text ?? ''));
    if (t.shape[0] !== ready.length) throw new Error(`tokenizer returned ${t.shape[0]} rows for ${ready.length} captions`);
    batch.tokens = t.data;
    batch.tokenShape = t.shape;
  }
  if (ready.every((r) => r.label !== undefined)) batch.labels = Int32Array.from(ready.map((r) => r.label!));
  return batch;
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
  while (!ended && (opts.quota === null || delivered < opts.quota)) {
    const ready: Ready[] = [];
    while (ready.length < opts.batchSize) {
      // Pull exactly as many items as are still missing and prepare them concurrently; order is kept.
      const want = opts.batchSize - ready.length;
      const window: Promise<Ready | null>[] = [];
      for (let i = 0; i < want; i++) {
        const r = await stream.next();
        if (r.done) {
          ended = true;
          break;
        }
        cursor++;
        const item = r.value;
        if (item.kind === 'skip') {
          opts.onSkip({ reason: item.reason, where: item.where, message: item.message });
          continue;
        }
        window.push(prepare(item, opts.tokenize !== null, opts.transform, opts.onSkip));
      }
      for (const r of await Promise.all(window)) if (r) ready.push(r);
      if (ended) break;
    }
    if (ready.length === 0) break;
    if (ready.length < opts.batchSize && opts.quota !== null) {
      throw new Error(`the data stream ended after ${delivered} of ${opts.quota} batches; too few valid samples`);
    }
    yield await assemble(ready, opts.tokenize, cursor);
    delivered++;
  }
}
