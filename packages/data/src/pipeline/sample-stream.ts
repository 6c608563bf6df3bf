/**
 * What one data worker reads in one epoch, per source kind, as OpenCLIP's pipelines order it:
 * webdataset shards (epoch split or resampled) through a sample shuffle buffer, and map-style sources
 * (CSV, synthetic, image folder) through a DistributedSampler-style index list whose batches are dealt
 * to workers round-robin like torch's DataLoader. Every item is either a loadable sample or a skip event,
 * and the sequence is a pure function of (seed, epoch, rank, worker), so a position can be replayed.
 */
import { readFile } from 'node:fs/promises';
import { Rng } from '@openclip/engine/rng';
import { expandUrls } from '../shards/brace-expand.js';
import { ResampledShards, shardsForWorker, streamRng, type WorkerSlot } from '../shards/shard-sampler.js';
import { shardSamples, sampleImage, type WdsEvent } from '../sources/webdataset.js';
import { makePilImage, type PilImage } from '../image/pil-image.js';
import { encodeSynthetic, renderSynthetic, syntheticSpec, type SyntheticImageFormat } from '../synthetic/shapes.js';
import { shuffleBuffer } from './shuffle-buffer.js';
import type { SkipReason } from './skip-stats.js';

export type SourceDescriptor =
  | { kind: 'webdataset'; spec: string; resampled: boolean; factors: number[] | null; shuffleSize: number; shuffleInitial: number }
  | { kind: 'csv'; file: string; images: string[]; captions: string[]; lines: number[] }
  | { kind: 'synthetic'; size: number; imageSize: number; seed: number; format: SyntheticImageFormat }
  | { kind: 'imagefolder'; root: string; paths: string[]; labels: number[] };

export interface StreamContext extends WorkerSlot {
  seed: number;
  epoch: number;
  batchSize: number;
  isTrain: boolean;
}

export type RawItem =
  | {
      kind: 'sample';
      where: string;
      key: string;
      text?: string;
      label?: number;
      load: () => Promise<Uint8Array> | Uint8Array;
      /** The exact pixels `load()`'s bytes decode to, when the source has them without decoding (lossless synthetic images). */
      decoded?: () => PilImage;
      missing?: string;
    }
  | { kind: 'skip'; reason: SkipReason; where: string; message: string }
  /** End of one full pass over this worker's share (training streams that wrap around). */
  | { kind: 'pass' };

const decoder = new TextDecoder('utf-8', { fatal: false });

function wdsItem(ev: WdsEvent): RawItem {
  if (ev.kind === 'error') return { kind: 'skip', reason: 'shard-error', where: ev.url, message: ev.message };
  const s = ev.sample;
  const where = `${s.url}#${s.key}`;
  const img = sampleImage(s);
  const txt = s.parts.get('txt');
  const cls = s.parts.get('cls');
  const missing = [img ? null : 'image (jpg/png/jpeg/webp)', txt ? null : 'txt'].filter(Boolean).join(' and ');
  let label: number | undefined;
  if (cls) {
    const n = Number(decoder.decode(cls).trim());
    if (Number.isInteger(n)) label = n;
  }
  return {
    kind: 'sample',
    where,
    key: s.key,
    text: txt ? decoder.decode(txt) : undefined,
    label,
    load: () => img!.data,
    missing: missing || undefined,
  };
}

async function* shardPass(urls: string[], signal?: AbortSignal): AsyncGenerator<RawItem> {
  for (const url of urls) {
    if (signal?.aborted) return;
    for await (const ev of shardSamples(url, signal)) yield wdsItem(ev);
  }
}

/** A webdataset worker's items for one epoch; training streams repeat their shards endlessly (`with_epoch` decides where the epoch ends). */
async function* webdatasetStream(src: Extract<SourceDescriptor, { kind: 'webdataset' }>, ctx: StreamContext, signal?: AbortSignal): AsyncGenerator<RawItem> {
  const shuffleRng = streamRng(ctx.seed, ctx.epoch, ctx, 2);
  const shuffled = (items: AsyncIterable<RawItem>) =>
    ctx.isTrain && src.shuffleSize > 1 ? shuffleBuffer(items, src.shuffleSize, src.shuffleInitial, shuffleRng) : items;
  if (src.resampled) {
    const sampler = new ResampledShards(src.spec, src.factors);
    const urls = sampler.stream(ctx.seed, ctx.epoch, ctx);
    const raw = (async function* () {
      let emptyInARow = 0;
      for (const url of urls) {
        if (signal?.aborted) return;
        let samples = 0;
        for await (const ev of shardSamples(url, signal)) {
          if (ev.kind === 'sample') samples++;
          yield wdsItem(ev);
        }
        emptyInARow = samples ? 0 : emptyInARow + 1;
        if (emptyInARow >= Math.max(100, 4 * sampler.urls.length)) {
          throw new Error(`resampled ${emptyInARow} shards in a row without a single sample (last: ${url}); check --train-data`);
        }
      }
    })();
    yield* shuffled(raw);
    return;
  }
  const all = expandUrls(src.spec);
  const mine = shardsForWorker(all, { ...ctx, shuffle: ctx.isTrain });
  if (!ctx.isTrain) {
    yield* shardPass(mine, signal);
    return;
  }
  if (mine.length === 0) {
    throw new Error(`rank ${ctx.rank} worker ${ctx.worker} got no shard: fewer shards (${all.length}) than workers x ranks (${ctx.numWorkers * ctx.worldSize})`);
  }
  // Like `with_epoch`, a worker that runs out of shards before its quota starts another pass over them;
  // each pass drains its own shuffle buffer, so a pass holds every sample once.
  for (;;) {
    let samples = 0;
    for await (const item of shuffled(shardPass(mine, signal))) {
      if (item.kind === 'sample') samples++;
      yield item;
    }
    if (signal?.aborted) return;
    yield { kind: 'pass' };
    if (samples === 0) throw new Error(`rank ${ctx.rank} worker ${ctx.worker}: its shards (${mine.join(', ')}) hold no samples`);
  }
}

/**
 * The dataset indices of this rank in sampler order, chunked into batches, and the batches dealt to
 * this worker (`batch b -> worker b % numWorkers`). Train: shuffled with `seed + epoch`, padded to a
 * multiple of the world size by repeating the start, last partial batch dropped; eval: in order, all kept.
 */
export function mapStyleWorkerBatches(size: number, ctx: StreamContext): number[][] {
  let indices = Array.from({ length: size }, (_, i) => i);
  if (ctx.isTrain) new Rng(ctx.seed + ctx.epoch).shuffle(indices);
  const total = Math.ceil(size / ctx.worldSize) * ctx.worldSize;
  if (ctx.worldSize > 1) {
    while (indices.length < total) indices = indices.concat(indices.slice(0, total - indices.length));
  }
  const mine = indices.filter((_, i) => i % ctx.worldSize === ctx.rank);
  const batches: number[][] = [];
  for (let i = 0; i < mine.length; i += ctx.batchSize) {
    const b = mine.slice(i, i + ctx.batchSize);
    if (b.length < ctx.batchSize && ctx.isTrain) break;
    batches.push(b);
  }
  return batches.filter((_, b) => b % ctx.numWorkers === ctx.worker);
}

function mapItem(src: Exclude<SourceDescriptor, { kind: 'webdataset' }>, i: number): RawItem {
  if (src.kind === 'csv') {
    const where = `${src.file}:${src.lines[i]}`;
    const path = src.images[i];
    return {
      kind: 'sample',
      where: `${where} ${path}`,
      key: String(i),
      text: src.captions[i],
      missing: path ? undefined : 'image path',
      load: () => readFile(path),
    };
  }
  if (src.kind === 'imagefolder') {
    return { kind: 'sample', where: src.paths[i], key: src.paths[i], label: src.labels[i], load: () => readFile(src.paths[i]) };
  }
  let encoded: Promise<{ bytes: Uint8Array; caption: string; label: number }> | null = null;
  const get = () => (encoded ??= encodeSynthetic(src.seed, i, src.imageSize, src.format));
  // The caption and label are drawn without rendering, so skipping (resume) stays cheap.
  const { caption, label } = syntheticCaption(src.seed, i);
  // A PNG decodes to exactly the drawn pixels, so a transform that takes pixels gets them without the
  // encode + decode round trip (JPEG is lossy: its samples always go through the bytes).
  const decoded =
    src.format === 'png'
      ? () => makePilImage('RGB', src.imageSize, src.imageSize, renderSynthetic(src.seed, i, src.imageSize).pixels)
      : undefined;
  return { kind: 'sample', where: `synthetic:${i}`, key: String(i), text: caption, label, load: async () => (await get()).bytes, decoded };
}

function syntheticCaption(seed: number, i: number): { caption: string; label: number } {
  const s = syntheticSpec(seed, i);
  return { caption: s.caption, label: s.label };
}

function datasetSize(src: Exclude<SourceDescriptor, { kind: 'webdataset' }>): number {
  return src.kind === 'csv' ? src.images.length : src.kind === 'imagefolder' ? src.paths.length : src.size;
}

/** A map-style worker's items; training wraps around its own list so skipped samples can be made up. */
async function* mapStyleStream(src: Exclude<SourceDescriptor, { kind: 'webdataset' }>, ctx: StreamContext): AsyncGenerator<RawItem> {
  const order = mapStyleWorkerBatches(datasetSize(src), ctx).flat();
  if (order.length === 0) return;
  do {
    for (const i of order) yield mapItem(src, i);
    if (ctx.isTrain) yield { kind: 'pass' };
  } while (ctx.isTrain);
}

export function sampleStream(src: SourceDescriptor, ctx: StreamContext, signal?: AbortSignal): AsyncGenerator<RawItem> {
  return src.kind === 'webdataset' ? webdatasetStream(src, ctx, signal) : mapStyleStream(src, ctx);
}

/** Batches each worker must deliver this epoch when training (null = until its stream ends). */
export function workerQuotas(src: SourceDescriptor, ctx: Omit<StreamContext, 'worker'>, numWorkerBatches: number | null): (number | null)[] {
  const quotas: (number | null)[] = [];
  for (let w = 0; w < ctx.numWorkers; w++) {
    if (!ctx.isTrain) quotas.push(null);
    else if (src.kind === 'webdataset') quotas.push(numWorkerBatches);
    else quotas.push(mapStyleWorkerBatches(datasetSize(src), { ...ctx, worker: w }).length);
  }
  return quotas;
}
