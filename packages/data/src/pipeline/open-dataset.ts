/**
 * One split's dataset, checked before the first batch, as OpenCLIP's get_data: webdataset shards
 * (each must exist; enough shards for workers x ranks), a CSV file (its columns and rows), synthetic
 * samples, or an image folder; and how many samples and batches an epoch has on each rank.
 */
import { expandUrls } from '../shards/brace-expand.js';
import { resolveTrainNumSamples } from '../shards/dataset-size.js';
import { parseUpsamplingFactors } from '../shards/shard-sampler.js';
import { readCsvDataset } from '../sources/csv.js';
import { scanImageFolder } from '../sources/image-folder.js';
import { checkShardExists } from '../sources/url-opener.js';
import type { SyntheticImageFormat } from '../synthetic/shapes.js';
import { mapStyleCounts, webdatasetEvalCounts, webdatasetTrainCounts } from './epoch-counts.js';
import type { SourceDescriptor } from './sample-stream.js';
import { sampleShuffleSizes } from './shuffle-buffer.js';

export type DatasetType = 'auto' | 'webdataset' | 'csv' | 'synthetic' | 'imagefolder';

/** The DataLoaderOptions that choose and describe the dataset. */
export interface DatasetOptions {
  /** `--train-data` / `--val-data`: shard spec, CSV file, or image-folder root (unused for synthetic). */
  data?: string | null;
  /** Image folders: how class folders map to labels (see scanImageFolder); default 'sorted'. */
  imageFolderLabels?: 'sorted' | 'numeric';
  isTrain: boolean;
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
  /** Round batches per epoch down instead of up (OpenCLIP's `floor`). */
  floor?: boolean;
}

export interface OpenedDataset {
  source: SourceDescriptor;
  counts: ReturnType<typeof mapStyleCounts>;
  /** Class names (image folders). */
  classes: string[] | null;
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

/** Opens and checks one split's dataset of a resolved `type`. */
export async function openDataset(
  o: DatasetOptions,
  type: Exclude<DatasetType, 'auto'>,
  w: { batchSize: number; worldSize: number; workers: number; numWorkers: number; seed: number },
): Promise<OpenedDataset> {
  const { batchSize, worldSize, workers, numWorkers, seed } = w;
  let source: SourceDescriptor;
  let counts: ReturnType<typeof mapStyleCounts>;
  let classes: string[] | null = null;

  if (o.upsamplingFactors && (type !== 'webdataset' || !o.isTrain)) {
    throw new Error('--train-data-upsampling-factors applies to webdataset training data only');
  }
  if (type === 'webdataset') {
    if (!o.data) throw new Error('--dataset-type webdataset needs a shard spec');
    const spec = o.data;
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
  return { source, counts, classes };
}
