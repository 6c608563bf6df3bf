/**
 * Entry of a data worker thread (the counterpart of a torch DataLoader worker process): builds its
 * transform and tokenizer from plain specs, then for each epoch streams its share of the data into
 * batches, posting them to the main thread (buffers transferred, not copied) while it holds credits,
 * so at most `prefetch` batches per worker are in flight.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { produceBatches, type WorkerBatch } from './batcher.js';
import { streamRng } from '../shards/shard-sampler.js';
import { deriveSeed } from '../derive-rng.js';
import { sampleStream, type SourceDescriptor, type StreamContext } from './sample-stream.js';
import { buildTokenizer, buildTransform, type TokenizerSpec, type TransformSpec } from './specs.js';

export interface WorkerInit {
  source: SourceDescriptor;
  context: Omit<StreamContext, 'epoch'>;
  transform: TransformSpec;
  tokenizer: TokenizerSpec | null;
  /** Batch image arrays in SharedArrayBuffer memory instead of transferred ArrayBuffers. */
  sharedMemory: boolean;
  /** `--max-skip-ratio` (see BatcherOptions). */
  maxSkipRatio?: number;
}

export type ToWorker =
  | { type: 'epoch'; tag: number; epoch: number; skipItems: number; quota: number | null; credits: number }
  | { type: 'credit'; tag: number }
  | { type: 'abort'; tag: number }
  | { type: 'recycle'; buffer: Float32Array };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'batch'; tag: number; batch: WorkerBatch }
  | { type: 'skip'; tag: number; event: import('./skip-stats.js').SkipEvent }
  | { type: 'end'; tag: number }
  | { type: 'error'; tag: number; message: string };

function transferable(batch: WorkerBatch): ArrayBuffer[] {
  const own = <T extends Float32Array | Int32Array>(a: T): T =>
    a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && a.buffer instanceof ArrayBuffer ? a : (a.slice() as T);
  const list: ArrayBuffer[] = [];
  // Shared memory is handed over by reference; an ArrayBuffer is transferred (moved, not copied).
  if (!(batch.images.buffer instanceof SharedArrayBuffer)) {
    batch.images = own(batch.images);
    list.push(batch.images.buffer as ArrayBuffer);
  }
  if (batch.tokens) {
    batch.tokens = own(batch.tokens);
    list.push(batch.tokens.buffer as ArrayBuffer);
  }
  if (batch.labels) {
    batch.labels = own(batch.labels);
    list.push(batch.labels.buffer as ArrayBuffer);
  }
  return list;
}

async function main(): Promise<void> {
  const port = parentPort!;
  const init = workerData as WorkerInit;
  const post = (m: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);
  let current: { tag: number; credits: number; wake: (() => void) | null; abort: AbortController } | null = null;
  let chain: Promise<void> = Promise.resolve();
  const abortedTags = new Set<number>();
  const pool: Float32Array[] = [];
  // Random augmentations draw from this stream, re-seeded from (seed, epoch, rank, worker) at each
  // epoch start, so an epoch's crops do not depend on the epochs before it (resume gives the same run).
  const augmentRng = streamRng(init.context.seed, 0, init.context, 3);
  let built: Promise<[Awaited<ReturnType<typeof buildTransform>>, Awaited<ReturnType<typeof buildTokenizer>> | null]>;
  try {
    // One libvips thread per decode (each worker is already a parallel lane) and no operation cache
    // (images are seen once); sharp's settings are process-wide, and only data workers set them.
    const { default: sharp } = await import('sharp');
    sharp.concurrency(1);
    sharp.cache(false);
    built = Promise.all([buildTransform(init.transform, augmentRng), init.tokenizer ? buildTokenizer(init.tokenizer) : Promise.resolve(null)]);
    await built;
  } catch (e) {
    post({ type: 'error', tag: -1, message: (e as Error).message });
    return;
  }
  post({ type: 'ready' });

  const runEpoch = async (msg: Extract<ToWorker, { type: 'epoch' }>) => {
    if (abortedTags.has(msg.tag)) {
      post({ type: 'end', tag: msg.tag });
      return;
    }
    const state = { tag: msg.tag, credits: msg.credits, wake: null as (() => void) | null, abort: new AbortController() };
    current = state;
    const [transform, tokenize] = await built;
    augmentRng.setState(streamRng(init.context.seed, msg.epoch, init.context, 3).getState());
    // the same for every rank and worker: a sample's crop depends on (seed, epoch, key) only
    const augmentSeed = deriveSeed(init.context.seed, msg.epoch, 3);
    const stream = sampleStream(init.source, { ...init.context, epoch: msg.epoch }, state.abort.signal);
    try {
      const batches = produceBatches(stream, {
        batchSize: init.context.batchSize,
        transform,
        tokenize,
        quota: msg.quota,
        skipItems: msg.skipItems,
        onSkip: (event) => post({ type: 'skip', tag: msg.tag, event }),
        augmentSeed,
        pool,
        shared: init.sharedMemory,
        maxSkipRatio: init.maxSkipRatio,
      });
      for await (const batch of batches) {
        if (state.abort.signal.aborted) break;
        while (state.credits <= 0 && !state.abort.signal.aborted) await new Promise<void>((r) => (state.wake = r));
        if (state.abort.signal.aborted) break;
        state.credits--;
        post({ type: 'batch', tag: msg.tag, batch }, transferable(batch));
      }
      post({ type: 'end', tag: msg.tag });
    } catch (e) {
      if (!state.abort.signal.aborted) post({ type: 'error', tag: msg.tag, message: (e as Error).message });
      else post({ type: 'end', tag: msg.tag });
    } finally {
      await stream.return(undefined);
      if (current === state) current = null;
    }
  };

  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'epoch') {
      chain = chain.then(() => runEpoch(msg));
    } else if (msg.type === 'credit') {
      if (current && current.tag === msg.tag) {
        current.credits++;
        const w = current.wake;
        current.wake = null;
        w?.();
      }
    } else if (msg.type === 'recycle') {
      if (pool.length < 4) pool.push(msg.buffer);
    } else if (msg.type === 'abort') {
      abortedTags.add(msg.tag);
      if (current && current.tag === msg.tag) {
        current.abort.abort();
        const w = current.wake;
        current.wake = null;
        w?.();
      }
    }
  });
}

void main();
