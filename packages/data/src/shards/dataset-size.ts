/**
 * OpenCLIP's `get_dataset_size` for webdataset shards: the sample count comes from a `sizes.json`
 * (shard basename -> count) or a `__len__` file beside the shards, and training refuses to start
 * without one unless `--train-num-samples` is given.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { expandUrls } from './brace-expand.js';

/** The error OpenCLIP raises when a training set's size is unknown (kept word for word). */
export const UNKNOWN_SIZE_MESSAGE =
  'Currently, the number of dataset samples must be specified for the training dataset. ' +
  'Please specify it via `--train-num-samples` if no dataset length info is present.';

export interface DatasetSize {
  /** Total samples over all shards, or null when no `sizes.json` / `__len__` was found. */
  totalSize: number | null;
  numShards: number;
  /** The file the size was read from, if any. */
  from: string | null;
}

function isLocal(url: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith('file:');
}

function localPath(url: string): string {
  return url.startsWith('file://') ? new URL(url).pathname : url.startsWith('file:') ? url.slice(5) : url;
}

/**
 * Reads the dataset size beside the shards. Unlike OpenCLIP, which looks only beside the first shard,
 * each shard is looked up in the `sizes.json` of its own folder, so `::`-joined sources in different
 * folders work; a folder with only `__len__` contributes that number once.
 */
export function getDatasetSize(spec: string): DatasetSize {
  const shards = expandUrls(spec);
  const byDir = new Map<string, string[]>();
  for (const s of shards) {
    if (!isLocal(s)) return { totalSize: null, numShards: shards.length, from: null };
    const dir = dirname(localPath(s));
    const list = byDir.get(dir) ?? [];
    list.push(s);
    byDir.set(dir, list);
  }
  let total = 0;
  const from: string[] = [];
  for (const [dir, list] of byDir) {
    const sizesFile = `${dir}/sizes.json`;
    const lenFile = `${dir}/__len__`;
    if (existsSync(sizesFile)) {
      let sizes: Record<string, unknown>;
      try {
        sizes = JSON.parse(readFileSync(sizesFile, 'utf8')) as Record<string, unknown>;
      } catch (e) {
        throw new Error(`${sizesFile}: not valid JSON (${(e as Error).message})`);
      }
      for (const s of list) {
        const key = basename(localPath(s));
        const n = Number(sizes[key]);
        if (!(key in sizes) || !Number.isInteger(n) || n < 0) {
          throw new Error(`${sizesFile}: no sample count for shard '${key}' (give --train-num-samples or add it)`);
        }
        total += n;
      }
      from.push(sizesFile);
    } else if (existsSync(lenFile)) {
      const text = readFileSync(lenFile, 'utf8').trim();
      const n = Number(text);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${lenFile}: expected one non-negative integer, found '${text.slice(0, 40)}'`);
      total += n;
      from.push(lenFile);
    } else {
      return { totalSize: null, numShards: shards.length, from: null };
    }
  }
  return { totalSize: total, numShards: shards.length, from: from.join(', ') };
}

/** Per-source sizes (for proportional mixing); null entries where a source has no size info. */
export function sourceSizes(sources: string[]): (number | null)[] {
  return sources.map((s) => getDatasetSize(s).totalSize);
}

/** `--train-num-samples` when given, else the size beside the shards; throws OpenCLIP's error when neither exists. */
export function resolveTrainNumSamples(spec: string, trainNumSamples?: number | null): number {
  if (trainNumSamples !== undefined && trainNumSamples !== null) {
    if (!Number.isInteger(trainNumSamples) || trainNumSamples <= 0) throw new Error(`--train-num-samples must be a positive integer, got ${trainNumSamples}`);
    return trainNumSamples;
  }
  const { totalSize } = getDatasetSize(spec);
  if (!totalSize) throw new Error(UNKNOWN_SIZE_MESSAGE);
  return totalSize;
}
