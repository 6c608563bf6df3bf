/**
 * Shard selection per epoch as OpenCLIP's webdataset pipeline does it: in epoch mode the shard list is
 * shuffled with `seed + epoch` (the same order on every rank and worker, `detshuffle2`) then split
 * `split_by_node` / `split_by_worker` style; in `--dataset-resampled` mode shards are drawn with
 * replacement (`ResampledShards2`), weighted per shard by its source's upsampling factor.
 */
import { Rng } from '@openclip/engine/rng';
import { deriveRng } from '../derive-rng.js';
import { expandSources, splitSources } from './brace-expand.js';

export interface WorkerSlot {
  rank: number;
  worldSize: number;
  worker: number;
  numWorkers: number;
}

/** A generator unique to (seed, epoch, rank, worker), identical every time it is rebuilt. */
export function streamRng(seed: number, epoch: number, slot: WorkerSlot, salt = 0): Rng {
  return deriveRng(seed, epoch, salt, slot.rank, slot.worker);
}

/** Epoch-mode shard order: shuffled with `seed + epoch` when `shuffle`, then every (rank, worker) takes its strided slice. */
export function shardsForWorker(urls: string[], opts: { seed: number; epoch: number; shuffle: boolean } & WorkerSlot): string[] {
  const order = urls.slice();
  if (opts.shuffle) new Rng(opts.seed + opts.epoch).shuffle(order);
  const byRank = order.filter((_, i) => i % opts.worldSize === opts.rank);
  return byRank.filter((_, i) => i % opts.numWorkers === opts.worker);
}

/**
 * Parses `--train-data-upsampling-factors` (`1::2::0.5`) with OpenCLIP's checks: it needs
 * `--dataset-resampled`, and exactly one factor per `::`-separated source.
 */
export function parseUpsamplingFactors(trainData: string, factors: string, resampled: boolean): number[] {
  if (!resampled) {
    throw new Error('--train-data-upsampling-factors is only supported when sampling with replacement (with --dataset-resampled).');
  }
  const sources = splitSources(trainData);
  const parts = factors.split('::');
  if (parts.length !== sources.length) {
    throw new Error(`Expected the number of data components (${sources.length}) and weights(${parts.length}) to match.`);
  }
  return parts.map((p, i) => {
    const w = Number(p);
    if (p.trim() === '' || !Number.isFinite(w) || w < 0) throw new Error(`--train-data-upsampling-factors: factor ${i + 1} '${p}' is not a non-negative number`);
    return w;
  });
}

/** Draws shards with replacement; with no factors every shard is equally likely (so sources mix in proportion to their shard counts). */
export class ResampledShards {
  readonly urls: string[];
  /** Per-shard weight (the factor of the shard's source), or null for uniform. */
  readonly weights: number[] | null;
  private readonly cumulative: Float64Array | null;

  constructor(spec: string, factors: number[] | null = null) {
    const sources = expandSources(spec);
    if (factors && factors.length !== sources.length) {
      throw new Error(`Expected the number of data components (${sources.length}) and weights(${factors.length}) to match.`);
    }
    this.urls = sources.flatMap((s) => s.urls);
    if (this.urls.length === 0) throw new Error(`data spec '${spec}' expands to no shards`);
    this.weights = factors ? sources.flatMap((s, i) => s.urls.map(() => factors[i])) : null;
    if (this.weights) {
      this.cumulative = new Float64Array(this.weights.length);
      let acc = 0;
      this.weights.forEach((w, i) => (this.cumulative![i] = acc += w));
      if (!(acc > 0)) throw new Error('--train-data-upsampling-factors: all factors are zero');
    } else {
      this.cumulative = null;
    }
  }

  /** Probability of each `::` source being drawn for one shard. */
  sourceProbabilities(spec: string): number[] {
    const sources = expandSources(spec);
    let k = 0;
    const mass = sources.map((s) => {
      let m = 0;
      for (let i = 0; i < s.urls.length; i++, k++) m += this.weights ? this.weights[k] : 1;
      return m;
    });
    const total = mass.reduce((a, b) => a + b, 0);
    return mass.map((m) => m / total);
  }

  /** One shard index drawn from `rng`. */
  drawIndex(rng: Rng): number {
    if (!this.cumulative) return rng.randint(this.urls.length);
    const total = this.cumulative[this.cumulative.length - 1];
    const x = rng.random() * total;
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cumulative[mid] > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** An endless stream of shard URLs for one worker in one epoch (re-seeded per epoch, like `deterministic=True`). */
  *stream(seed: number, epoch: number, slot: WorkerSlot): Generator<string> {
    const rng = streamRng(seed, epoch, slot, 1);
    for (;;) yield this.urls[this.drawIndex(rng)];
  }
}
