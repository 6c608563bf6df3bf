/**
 * Samples and steps per epoch exactly as OpenCLIP computes them: webdataset training rounds the batch
 * count up (or down with `floor`) per global batch and then to a multiple of the workers
 * (`with_epoch(num_worker_batches)`); map-style sources (CSV, synthetic) use a DistributedSampler
 * (padded to a multiple of the world size) and drop the last partial batch when training.
 */

export interface EpochCounts {
  /** Samples seen per epoch over all ranks (webdataset train) or in the dataset (map-style). */
  numSamples: number;
  /** Batches per epoch on each rank. */
  numBatches: number;
  /** Batches each worker produces per epoch (webdataset train), else null. */
  numWorkerBatches: number | null;
}

/** `get_wds_dataset` arithmetic for training. */
export function webdatasetTrainCounts(opts: { numSamples: number; batchSize: number; worldSize: number; workers: number; floor?: boolean }): EpochCounts {
  const round = opts.floor ? Math.floor : Math.ceil;
  const globalBatch = opts.batchSize * opts.worldSize;
  const numWorkers = Math.max(1, opts.workers);
  let numBatches = round(opts.numSamples / globalBatch);
  const numWorkerBatches = round(numBatches / numWorkers);
  numBatches = numWorkerBatches * numWorkers;
  return { numSamples: numBatches * globalBatch, numBatches, numWorkerBatches };
}

/** `get_wds_dataset` for evaluation: partial last batch, single node. */
export function webdatasetEvalCounts(opts: { numSamples: number; batchSize: number }): EpochCounts {
  return { numSamples: opts.numSamples, numBatches: Math.ceil(opts.numSamples / opts.batchSize), numWorkerBatches: null };
}

/** Map-style loaders (`CsvDataset`, synthetic, image folder): `len(dataloader)` with DistributedSampler padding. */
export function mapStyleCounts(opts: { datasetSize: number; batchSize: number; worldSize: number; dropLast: boolean }): EpochCounts {
  const perRank = Math.ceil(opts.datasetSize / opts.worldSize);
  const numBatches = opts.dropLast ? Math.floor(perRank / opts.batchSize) : Math.ceil(perRank / opts.batchSize);
  return { numSamples: opts.datasetSize, numBatches, numWorkerBatches: null };
}
