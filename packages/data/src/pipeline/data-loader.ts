/**
 * OpenCLIP's `get_data` / `DataInfo` for one split: `createDataLoader` resolves `--dataset-type`
 * (`auto` by file extension) and opens the dataset, checked at start (open-dataset.ts), then the
 * DataLoader iterates an epoch as batches from `--workers` lanes (worker threads: thread-source.ts;
 * in-process with 0: batch-source.ts), interleaved round-robin like torch's DataLoader. The position
 * (epoch, batches delivered, per-lane stream cursors) can be saved and resumed exactly (epoch-plan.ts).
 */
import { streamRng } from '../shards/shard-sampler.js';
import type { WorkerBatch } from './batcher.js';
import { InProcessSource, type BatchSource } from './batch-source.js';
import { planEpoch, type DataPosition, type EpochPlan } from './epoch-plan.js';
import type { StreamContext, SourceDescriptor } from './sample-stream.js';
import { ThreadSource } from './thread-source.js';
import { capWorkers } from './worker-cap.js';
import { SkipCounter, type SkipStats } from './skip-stats.js';
import { buildTokenizer, buildTransform, type TokenizeFn, type TokenizerSpec, type TransformFn, type TransformSpec } from './specs.js';
import { openDataset, resolveDatasetType, type DatasetOptions, type DatasetType } from './open-dataset.js';

export { resolveDatasetType, type DatasetType } from './open-dataset.js';
export type { DataPosition } from './epoch-plan.js';

/** Everything a loader is built from: the dataset (DatasetOptions) and how batches are produced. */
export interface DataLoaderOptions extends DatasetOptions {
  datasetType?: DatasetType;
  batchSize: number;
  /** `--workers`: worker threads; 0 runs in the calling thread. */
  workers: number;
  rank?: number;
  worldSize?: number;
  seed?: number;
  /** Batches each worker may have ready ahead of the consumer (torch's prefetch_factor, default 2). */
  prefetch?: number;
  /** A function only with `workers: 0`; worker threads need a spec to build their own. */
  transform: TransformFn | TransformSpec;
  /** Omitted for image folders (labels only). */
  tokenizer?: TokenizeFn | TokenizerSpec | null;
  /** Where skip reports go (default: stderr). */
  log?: (msg: string) => void;
  /** Skipped samples reported by name before only counts are (default 5). */
  reportFirst?: number;
  /**
   * Worker threads put batch images in SharedArrayBuffer memory (default true): handing a ~40 MB
   * array over costs nothing, where transferring ArrayBuffers makes both threads account for (and
   * garbage-collect) that memory again each batch (~25% more CPU measured). false transfers ArrayBuffers.
   */
  sharedMemory?: boolean;
  /** `--max-skip-ratio`: stop when more than this fraction of an epoch's samples cannot be loaded (default 0.5). */
  maxSkipRatio?: number;
}

export interface Batch extends WorkerBatch {
  /** Batch index within the epoch on this rank. */
  index: number;
  worker: number;
}


export class DataLoader {
  readonly numSamples: number;
  readonly numBatches: number;
  /** Class names (image folder; synthetic sets use SYNTHETIC_CLASSNAMES). */
  readonly classes: string[] | null;
  readonly datasetType: Exclude<DatasetType, 'auto'>;
  private readonly skips: SkipCounter;
  private sources: BatchSource[] | null = null;
  private pos: DataPosition;
  private readonly numWorkers: number;
  private active = false;
  /** The epoch (and resume position) `prepare` started the workers on, until `epoch()` takes it. */
  private prepared: string | null = null;

  constructor(
    private readonly opts: Required<Pick<DataLoaderOptions, 'isTrain' | 'batchSize' | 'workers' | 'prefetch'>> & { rank: number; worldSize: number; seed: number },
    private readonly source: SourceDescriptor,
    counts: { numSamples: number; numBatches: number; numWorkerBatches: number | null },
    private readonly numWorkerBatches: number | null,
    private readonly makeSources: (ctx: Omit<StreamContext, 'epoch' | 'worker'>, skips: SkipCounter) => BatchSource[],
    datasetType: Exclude<DatasetType, 'auto'>,
    classes: string[] | null,
    log: (msg: string) => void,
    reportFirst: number,
  ) {
    this.numSamples = counts.numSamples;
    this.numBatches = counts.numBatches;
    this.classes = classes;
    this.datasetType = datasetType;
    this.skips = new SkipCounter(reportFirst, log);
    this.numWorkers = Math.max(1, opts.workers);
    this.pos = { epoch: 0, batch: 0, cursors: new Array(this.numWorkers).fill(0), numWorkers: this.numWorkers, worldSize: opts.worldSize, rank: opts.rank };
  }

  private context(): Omit<StreamContext, 'epoch' | 'worker'> {
    return { seed: this.opts.seed, batchSize: this.opts.batchSize, isTrain: this.opts.isTrain, rank: this.opts.rank, worldSize: this.opts.worldSize, numWorkers: this.numWorkers };
  }

  /** Starts the workers (threads, transform, tokenizer) and waits until they are ready; errors surface here. */
  async start(): Promise<void> {
    await this.startSources();
  }

  private async startSources(): Promise<BatchSource[]> {
    this.sources ??= this.makeSources(this.context(), this.skips);
    const sources = this.sources;
    try {
      await Promise.all(sources.map((s) => s.whenReady()));
    } catch (e) {
      await this.close();
      throw e;
    }
    return sources;
  }

  /** Worker lanes actually used (`--workers` after the cap; 1 for in-process loading). */
  get workerCount(): number {
    return this.numWorkers;
  }

  /** The position after the last batch handed out (store it in a checkpoint; pass it back as `resume`). */
  position(): DataPosition {
    return { ...this.pos, cursors: this.pos.cursors.slice() };
  }

  /** Skip counters so far (all epochs). */
  stats(): SkipStats {
    return this.skips.stats();
  }

  /** Where each worker starts `epoch` (see planEpoch). */
  private plan(epoch: number, resume: DataPosition | null | undefined): EpochPlan {
    return planEpoch(epoch, resume, { source: this.source, context: this.context(), numWorkerBatches: this.numWorkerBatches, isTrain: this.opts.isTrain });
  }

  /**
   * Starts the workers on an epoch before it is iterated (e.g. while the model is evaluated between
   * epochs), so its first batches are ready when `epoch()` asks for them. A following `epoch()` with
   * the same epoch and resume position continues this start; any other call abandons it. The workers
   * still hold at most `prefetch` batches each.
   */
  async prepare(epoch: number, options: { resume?: DataPosition | null } = {}): Promise<void> {
    if (this.active) throw new Error('cannot prepare an epoch while another epoch of this data loader is being iterated');
    const { remaining, cursors } = this.plan(epoch, options.resume);
    const sources = await this.startSources();
    if (this.prepared) for (const s of sources) s.abort();
    sources.forEach((s, w) => s.start(epoch, cursors[w], remaining[w]));
    this.prepared = preparedKey(epoch, options.resume);
  }

  /** Iterates one epoch's batches for this rank; `resume` continues from a saved position of the same epoch. */
  async *epoch(epoch: number, options: { resume?: DataPosition | null } = {}): AsyncGenerator<Batch> {
    if (this.active) throw new Error('another epoch of this data loader is still being iterated; finish it or break out of it first');
    const resume = options.resume;
    const { remaining, cursors, index: resumeIndex, turn: resumeTurn } = this.plan(epoch, resume);
    const W = this.numWorkers;
    // Workers take turns (batch i from worker i mod W); a worker out of quota or data is passed over.
    const done = (w: number) => remaining[w] === 0;
    let index = resumeIndex;
    let turn = resumeTurn;
    const sources = await this.startSources();
    this.active = true;
    const key = preparedKey(epoch, resume);
    if (this.prepared !== key) {
      if (this.prepared) for (const s of sources) s.abort();
      sources.forEach((s, w) => s.start(epoch, cursors[w], remaining[w]));
    }
    this.prepared = null;
    this.pos = { epoch, batch: index, cursors: cursors.slice(), numWorkers: W, worldSize: this.opts.worldSize, rank: this.opts.rank };
    let finished = false;
    try {
      while (!remaining.every((_, w) => done(w))) {
        while (done(turn % W)) turn++;
        const w = turn++ % W;
        const b = await sources[w].next();
        if (b === null) {
          if (remaining[w] !== null) throw new Error(`data worker ${w} ended ${remaining[w]} batches early in epoch ${epoch}`);
          remaining[w] = 0;
          continue;
        }
        if (remaining[w] !== null) remaining[w] = (remaining[w] as number) - 1;
        cursors[w] = b.cursor;
        this.pos = { ...this.pos, batch: index + 1, cursors: cursors.slice() };
        yield { ...b, index: index++, worker: w };
      }
      finished = true;
    } finally {
      if (!finished) for (const s of sources) s.abort();
      this.active = false;
      this.skips.summarise(`epoch ${epoch}`);
    }
  }

  /**
   * Hands a batch's image array back for reuse once the consumer is done with it (e.g. after copying
   * it into a tensor). Optional: it saves allocating and page-faulting ~40 MB per batch. The batch's
   * `images` must not be used afterwards (with worker threads the memory moves back to the worker).
   */
  recycle(batch: Batch): void {
    this.sources?.[batch.worker]?.recycle(batch.images);
  }

  /** Stops the worker threads. */
  async close(): Promise<void> {
    const s = this.sources;
    this.sources = null;
    if (s) await Promise.all(s.map((x) => x.close()));
  }
}

function preparedKey(epoch: number, resume: DataPosition | null | undefined): string {
  return JSON.stringify([epoch, resume ?? null]);
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
  return v;
}

/** Builds the loader for one split, validating everything that can be checked before the first batch. */
export async function createDataLoader(o: DataLoaderOptions): Promise<DataLoader> {
  const rank = o.rank ?? 0;
  const worldSize = positiveInt('world size', o.worldSize ?? 1);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) throw new Error(`rank ${rank} is outside world size ${worldSize}`);
  const batchSize = positiveInt('--batch-size', o.batchSize);
  if (!Number.isInteger(o.workers) || o.workers < 0) throw new Error(`--workers must be a non-negative integer, got ${o.workers}`);
  if (o.maxSkipRatio !== undefined && !(o.maxSkipRatio >= 0 && o.maxSkipRatio <= 1)) throw new Error(`--max-skip-ratio must be between 0 and 1, got ${o.maxSkipRatio}`);
  const prefetch = positiveInt('prefetch', o.prefetch ?? 2);
  const seed = o.seed ?? 0;
  const log = o.log ?? ((m: string) => process.stderr.write(`openclip data: ${m}\n`));
  const workers = capWorkers(o.workers, log);
  const numWorkers = Math.max(1, workers);
  const type = resolveDatasetType(o.data, o.datasetType ?? 'auto');
  const { source, counts, classes } = await openDataset(o, type, { batchSize, worldSize, workers, numWorkers, seed });

  const tokenizer = type === 'imagefolder' ? null : o.tokenizer ?? null;
  if (type !== 'imagefolder' && !tokenizer) throw new Error(`a tokenizer is required for ${type} data (captions)`);

  let makeSources: (ctx: Omit<StreamContext, 'epoch' | 'worker'>, skips: SkipCounter) => BatchSource[];
  if (workers === 0) {
    const augmentRng = streamRng(seed, 0, { rank, worldSize, worker: 0, numWorkers }, 3);
    const fns = Promise.all([buildTransform(o.transform, augmentRng), tokenizer ? buildTokenizer(tokenizer) : Promise.resolve(null)]) as Promise<[TransformFn, TokenizeFn | null]>;
    await fns;
    makeSources = (ctx, skips) => [new InProcessSource(source, { ...ctx, worker: 0 }, fns, skips, augmentRng, seed, o.maxSkipRatio)];
  } else {
    if (typeof o.transform === 'function' || typeof tokenizer === 'function') {
      throw new Error('worker threads (--workers > 0) need the transform and tokenizer as specs (plain options) so each thread builds its own; pass functions only with workers: 0');
    }
    const transformSpec = o.transform;
    const tokenizerSpec = tokenizer as TokenizerSpec | null;
    makeSources = (ctx, skips) =>
      Array.from({ length: numWorkers }, (_, w) => new ThreadSource({ source, context: { ...ctx, worker: w }, transform: transformSpec, tokenizer: tokenizerSpec, sharedMemory: o.sharedMemory ?? true, maxSkipRatio: o.maxSkipRatio }, prefetch, skips));
  }
  const loader = new DataLoader(
    { isTrain: o.isTrain, batchSize, workers, prefetch, rank, worldSize, seed },
    source,
    counts,
    counts.numWorkerBatches,
    makeSources,
    type,
    classes,
    log,
    o.reportFirst ?? 5,
  );
  await loader.start();
  return loader;
}
