/**
 * Where a loader's batches come from: one lane of round-robin batches per worker. `BatchSource` is
 * what the DataLoader asks of a lane; `InProcessSource` produces the batches in the calling thread
 * (`--workers 0`); thread-source.ts runs a lane in a worker thread.
 */
import type { Rng } from '@openclip/engine/rng';
import { streamRng } from '../shards/shard-sampler.js';
import { deriveSeed } from '../derive-rng.js';
import { produceBatches, type WorkerBatch } from './batcher.js';
import { sampleStream, type SourceDescriptor, type StreamContext } from './sample-stream.js';
import type { SkipCounter } from './skip-stats.js';
import type { TokenizeFn, TransformFn } from './specs.js';

export interface BatchSource {
  /** Resolves when the source can produce (worker thread started, transform and tokenizer built). */
  whenReady(): Promise<void>;
  start(epoch: number, skipItems: number, quota: number | null): void;
  recycle(images: Float32Array): void;
  next(): Promise<WorkerBatch | null>;
  abort(): void;
  close(): Promise<void>;
}

/** A lane in the calling thread: the same stream, transform and batching as a worker thread runs. */
export class InProcessSource implements BatchSource {
  private it: AsyncGenerator<WorkerBatch> | null = null;
  private readonly pool: Float32Array[] = [];
  private abortCtl: AbortController | null = null;
  constructor(
    private readonly source: SourceDescriptor,
    private readonly ctx: Omit<StreamContext, 'epoch'>,
    private readonly fns: Promise<[TransformFn, TokenizeFn | null]>,
    private readonly skips: SkipCounter,
    private readonly augmentRng: Rng,
    private readonly seed: number,
    private readonly maxSkipRatio: number | undefined,
  ) {}
  start(epoch: number, skipItems: number, quota: number | null): void {
    // augmentations re-seeded per epoch, as in the worker threads
    this.augmentRng.setState(streamRng(this.seed, epoch, this.ctx, 3).getState());
    const augmentSeed = deriveSeed(this.seed, epoch, 3);
    this.abortCtl = new AbortController();
    const signal = this.abortCtl.signal;
    const { source, ctx, fns, skips, pool, maxSkipRatio } = this;
    this.it = (async function* () {
      const [transform, tokenize] = await fns;
      yield* produceBatches(sampleStream(source, { ...ctx, epoch }, signal), {
        batchSize: ctx.batchSize,
        transform,
        tokenize,
        quota,
        skipItems,
        onSkip: (e) => skips.add(e),
        augmentSeed,
        pool,
        maxSkipRatio,
      });
    })();
  }
  recycle(images: Float32Array): void {
    if (this.pool.length < 4) this.pool.push(images);
  }
  async whenReady(): Promise<void> {
    await this.fns;
  }
  async next(): Promise<WorkerBatch | null> {
    const r = await this.it!.next();
    return r.done ? null : r.value;
  }
  abort(): void {
    this.abortCtl?.abort();
    void this.it?.return(undefined);
  }
  async close(): Promise<void> {
    this.abort();
  }
}
