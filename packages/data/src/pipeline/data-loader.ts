/**
 * OpenCLIP's `get_data` / `DataInfo` for one split: picks the source by `--dataset-type` (`auto` by file
 * extension), validates it at start (missing shards, CSV columns, sample counts, shards vs workers x
 * ranks), computes `num_samples` / `num_batches`, and iterates an epoch as batches produced by
 * `--workers` worker threads (or in-process with 0), interleaved round-robin like torch's DataLoader.
 * The position (epoch, batches delivered, per-worker stream cursors) can be saved and resumed exactly.
 */
import { Worker } from 'node:worker_threads';
import type { Rng } from '@openclip/engine/rng';
import { expandUrls } from '../shards/brace-expand.js';
import { resolveTrainNumSamples } from '../shards/dataset-size.js';
import { parseUpsamplingFactors, streamRng } from '../shards/shard-sampler.js';
import { deriveSeed } from '../derive-rng.js';
import { readCsvDataset } from '../sources/csv.js';
import { scanImageFolder } from '../sources/image-folder.js';
import { checkShardExists } from '../sources/url-opener.js';
import type { SyntheticImageFormat } from '../synthetic/shapes.js';
import { produceBatches, type WorkerBatch } from './batcher.js';
import { mapStyleCounts, webdatasetEvalCounts, webdatasetTrainCounts } from './epoch-counts.js';
import { sampleStream, workerQuotas, type SourceDescriptor, type StreamContext } from './sample-stream.js';
import { sampleShuffleSizes } from './shuffle-buffer.js';
import { capWorkers } from './worker-cap.js';
import { SkipCounter, type SkipStats } from './skip-stats.js';
import { buildTokenizer, buildTransform, type TokenizeFn, type TokenizerSpec, type TransformFn, type TransformSpec } from './specs.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker.js';

export type DatasetType = 'auto' | 'webdataset' | 'csv' | 'synthetic' | 'imagefolder';

export interface DataLoaderOptions {
  /** `--train-data` / `--val-data`: shard spec, CSV file, or image-folder root (unused for synthetic). */
  data?: string | null;
  datasetType?: DatasetType;
  /** Image folders: how class folders map to labels (see scanImageFolder); default 'sorted'. */
  imageFolderLabels?: 'sorted' | 'numeric';
  isTrain: boolean;
  batchSize: number;
  /** `--workers`: worker threads; 0 runs in the calling thread. */
  workers: number;
  rank?: number;
  worldSize?: number;
  seed?: number;
  /** `--train-num-samples` (train) / `--val-num-samples` (eval); synthetic: dataset size. */
  numSamples?: number | null;
  datasetResampled?: boolean;
  /** `--train-data-upsampling-factors`, e.g. `1::2`. */
  upsamplingFactors?: string | null;
  csvSeparator?: string;
  csvImgKey?: string;
  csvCaptionKey?: string;
  /** Synthetic images: side in pixels (default 224) and encoding (default png). */
  syntheticImageSize?: number;
  syntheticFormat?: SyntheticImageFormat;
  /** Webdataset sample shuffle buffer (default OpenCLIP's 5000 / 1000, or `OPENCLIP_WDS_SAMPLE_SHUFFLE_*`). */
  shuffleSize?: number;
  shuffleInitial?: number;
  /** Batches each worker may have ready ahead of the consumer (torch's prefetch_factor, default 2). */
  prefetch?: number;
  /** Round batches per epoch down instead of up (OpenCLIP's `floor`). */
  floor?: boolean;
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

/** Where a rank is in its data: enough to resume mid-epoch with the same batches. */
export interface DataPosition {
  epoch: number;
  /** Batches delivered in this epoch. */
  batch: number;
  /** Stream items each worker consumed for the delivered batches. */
  cursors: number[];
  numWorkers: number;
  worldSize: number;
  rank: number;
}

/** `--dataset-type auto`: `.csv`/`.tsv` -> csv, `.tar` -> webdataset (as OpenCLIP), a folder -> imagefolder. */
export function resolveDatasetType(data: string | null | undefined, type: DatasetType = 'auto'): Exclude<DatasetType, 'auto'> {
  if (type !== 'auto') return type;
  if (!data) throw new Error('--dataset-type auto needs a data path (or use --dataset-type synthetic)');
  const ext = data.split('.').pop() ?? '';
  if (ext === 'csv' || ext === 'tsv') return 'csv';
  if (ext === 'tar') return 'webdataset';
  throw new Error(`Tried to figure out dataset type, but failed for extension ${ext}. Set --dataset-type.`);
}

interface BatchSource {
  /** Resolves when the source can produce (worker thread started, transform and tokenizer built). */
  whenReady(): Promise<void>;
  start(epoch: number, skipItems: number, quota: number | null): void;
  recycle(images: Float32Array): void;
  next(): Promise<WorkerBatch | null>;
  abort(): void;
  close(): Promise<void>;
}

class InProcessSource implements BatchSource {
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

class ThreadSource implements BatchSource {
  private readonly worker: Worker;
  private readonly ready: Promise<void>;
  private tag = 0;
  private queue: WorkerBatch[] = [];
  private ended = false;
  private failure: Error | null = null;
  private waiter: (() => void) | null = null;
  private fatal: Error | null = null;

  constructor(
    init: WorkerInit,
    private readonly prefetch: number,
    private readonly skips: SkipCounter,
  ) {
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: init });
    this.worker.unref();
    this.ready = new Promise((resolve, reject) => {
      this.worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') return resolve();
        if (m.type === 'error' && m.tag === -1) {
          this.fatal = new Error(`data worker ${init.context.worker}: ${m.message}`);
          return reject(this.fatal);
        }
        if (!('tag' in m) || m.tag !== this.tag) return;
        if (m.type === 'batch') this.queue.push(m.batch);
        else if (m.type === 'skip') this.skips.add(m.event);
        else if (m.type === 'end') this.ended = true;
        else if (m.type === 'error') this.failure = new Error(`data worker ${init.context.worker}: ${m.message}`);
        this.wake();
      });
      this.worker.on('error', (e) => {
        this.fatal = new Error(`data worker ${init.context.worker} crashed: ${e.message}`);
        reject(this.fatal);
        this.wake();
      });
      this.worker.on('exit', (code) => {
        if (!this.fatal) this.fatal = new Error(`data worker ${init.context.worker} exited (code ${code})`);
        reject(this.fatal);
        this.wake();
      });
    });
    this.ready.catch(() => {});
  }

  whenReady(): Promise<void> {
    return this.ready;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  start(epoch: number, skipItems: number, quota: number | null): void {
    this.tag++;
    this.queue = [];
    this.ended = false;
    this.failure = null;
    this.worker.ref();
    const msg: ToWorker = { type: 'epoch', tag: this.tag, epoch, skipItems, quota, credits: this.prefetch };
    this.worker.postMessage(msg);
  }

  async next(): Promise<WorkerBatch | null> {
    await this.ready;
    for (;;) {
      if (this.queue.length) {
        this.worker.postMessage({ type: 'credit', tag: this.tag } satisfies ToWorker);
        return this.queue.shift()!;
      }
      if (this.failure) throw this.failure;
      if (this.fatal) throw this.fatal;
      if (this.ended) {
        this.worker.unref();
        return null;
      }
      await new Promise<void>((r) => (this.waiter = r));
    }
  }

  recycle(images: Float32Array): void {
    if (images.byteOffset !== 0 || images.byteLength !== images.buffer.byteLength) return;
    if (images.buffer instanceof SharedArrayBuffer) this.worker.postMessage({ type: 'recycle', buffer: images } satisfies ToWorker);
    else if (images.buffer instanceof ArrayBuffer) this.worker.postMessage({ type: 'recycle', buffer: images } satisfies ToWorker, [images.buffer]);
  }

  abort(): void {
    this.worker.postMessage({ type: 'abort', tag: this.tag } satisfies ToWorker);
    this.queue = [];
    this.worker.unref();
  }

  async close(): Promise<void> {
    this.fatal ??= new Error('data loader closed');
    await this.worker.terminate();
  }
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

  /**
   * Where each worker starts an epoch: its quota, the stream items to skip, and (resume) the batches
   * already delivered and whose turn is next.
   */
  private plan(epoch: number, resume: DataPosition | null | undefined): { remaining: (number | null)[]; cursors: number[]; index: number; turn: number } {
    if (!Number.isInteger(epoch) || epoch < 0) throw new Error(`epoch must be a non-negative integer, got ${epoch}`);
    const ctx = this.context();
    const remaining = workerQuotas(this.source, { ...ctx, epoch }, this.numWorkerBatches);
    const cursors = new Array(this.numWorkers).fill(0);
    const W = this.numWorkers;
    let index = 0;
    let turn = 0;
    if (resume) {
      if (!this.opts.isTrain) throw new Error('resuming a position is only supported for training data');
      if (resume.epoch !== epoch) throw new Error(`data position is for epoch ${resume.epoch}, not ${epoch}`);
      if (resume.numWorkers !== W || resume.worldSize !== this.opts.worldSize || resume.rank !== this.opts.rank) {
        throw new Error(
          `data position was saved with ${resume.numWorkers} workers, world size ${resume.worldSize}, rank ${resume.rank}; ` +
            `resume with the same --workers and ranks (now ${W}, ${this.opts.worldSize}, ${this.opts.rank}) or restart the epoch`,
        );
      }
      for (; index < resume.batch; index++) {
        if (remaining.every((r) => r === 0)) throw new Error(`data position batch ${resume.batch} is past the end of epoch ${epoch}`);
        while (remaining[turn % W] === 0) turn++;
        const w = turn++ % W;
        remaining[w] = (remaining[w] as number) - 1;
      }
      resume.cursors.forEach((c, w) => (cursors[w] = c));
    }
    return { remaining, cursors, index, turn };
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
  let source: SourceDescriptor;
  let counts: ReturnType<typeof mapStyleCounts>;
  let classes: string[] | null = null;

  if (o.upsamplingFactors && (type !== 'webdataset' || !o.isTrain)) {
    throw new Error('--train-data-upsampling-factors applies to webdataset training data only');
  }
  if (type === 'webdataset') {
    const spec = o.data!;
    const urls = expandUrls(spec);
    if (urls.length === 0) throw new Error(`data spec '${spec}' expands to no shards`);
    for (const u of urls) checkShardExists(u);
    const resampled = Boolean(o.datasetResampled) && o.isTrain;
    const factors = o.upsamplingFactors ? parseUpsamplingFactors(spec, o.upsamplingFactors, resampled) : null;
    const sizes = sampleShuffleSizes();
    source = { kind: 'webdataset', spec, resampled, factors, shuffleSize: o.shuffleSize ?? sizes.size, shuffleInitial: o.shuffleInitial ?? sizes.initial };
    if (o.isTrain) {
      const numSamples = resolveTrainNumSamples(spec, o.numSamples);
      if (!resampled && urls.length < numWorkers * worldSize) {
        throw new Error(`number of shards must be >= total workers: ${urls.length} shards < ${numWorkers} workers x ${worldSize} ranks; lower --workers, add shards or use --dataset-resampled`);
      }
      counts = webdatasetTrainCounts({ numSamples, batchSize, worldSize, workers, floor: o.floor });
    } else {
      counts = webdatasetEvalCounts({ numSamples: o.numSamples ?? 0, batchSize });
    }
  } else if (type === 'csv') {
    if (!o.data) throw new Error('--dataset-type csv needs a CSV file');
    const rows = await readCsvDataset(o.data, { separator: o.csvSeparator, imgKey: o.csvImgKey, captionKey: o.csvCaptionKey });
    if (rows.images.length === 0) throw new Error(`${o.data}: the CSV has a header but no rows`);
    source = { kind: 'csv', file: o.data, images: rows.images, captions: rows.captions, lines: rows.lines };
    counts = mapStyleCounts({ datasetSize: rows.images.length, batchSize, worldSize, dropLast: o.isTrain });
  } else if (type === 'synthetic') {
    const n = o.numSamples;
    if (!n || !Number.isInteger(n) || n < 1) throw new Error('--dataset-type synthetic needs the number of samples (--train-num-samples / --val-num-samples)');
    const imageSize = o.syntheticImageSize ?? 224;
    source = { kind: 'synthetic', size: n, imageSize, seed, format: o.syntheticFormat ?? 'png' };
    counts = mapStyleCounts({ datasetSize: n, batchSize, worldSize, dropLast: o.isTrain });
  } else {
    if (!o.data) throw new Error('--dataset-type imagefolder needs a folder');
    const index = scanImageFolder(o.data, { labels: o.imageFolderLabels });
    classes = index.classes;
    source = { kind: 'imagefolder', root: o.data, paths: index.paths, labels: index.labels };
    counts = mapStyleCounts({ datasetSize: index.paths.length, batchSize, worldSize, dropLast: o.isTrain });
  }
  if (o.isTrain && counts.numBatches === 0) {
    throw new Error(`no full batch per epoch: ${counts.numSamples} samples for batch size ${batchSize} x ${worldSize} ranks; lower --batch-size`);
  }

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
