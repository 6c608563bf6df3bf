// @openclip/data public API.

// ---- Images: decode and OpenCLIP preprocessing (PIL/torchvision-exact) ----
export {
  PREPROCESS_DEFAULTS, AUGMENTATION_DEFAULTS,
  parsePreprocessConfig, parseAugmentationConfig, outputSize,
  type PreprocessConfig, type AugmentationConfig, type ResizeMode, type InterpolationName,
} from './image/preprocess-config.js';
export { decodeImage, decodeJpegNative, type ImageFormat } from './image/decode.js';
export { nativeImageStatus, type ImageKernels, type NativeImageStatus } from './image/native.js';
export { convertToRgb, makePilImage, type PilImage, type PilMode } from './image/pil-image.js';
export { resampleCoeffs, resampleU8, resampleNearest, type ResampleFilter, type Region } from './image/resample.js';
export { resizeImage, resizeAndCrop, cropImage, shortestEdgeSize, keepRatioSize } from './image/resize.js';
export { centerCropOrPadRegion, pyRound } from './image/center-crop.js';
export { randomResizedCropRegion, DEFAULT_CROP_RATIO } from './image/random-resized-crop.js';
export {
  colorJitter, colorJitterRanges, adjustBrightness, adjustContrast, adjustSaturation, adjustHue, toGrayscale,
  type ColorJitterRanges,
} from './image/color-jitter.js';
export { toTensor, rgbToTensor, tensorToRgb, type ImageTensor } from './image/to-tensor.js';
export {
  imageTransform, evalResizeCrop,
  type ImageTransform, type ImageTransformOptions, type ImageTransformCallOptions,
} from './image/image-transform.js';

// ---- Sources: datasets, shards, sampling and the worker pipeline ----
export { deriveRng, deriveSeed } from './derive-rng.js';
export { expandBraces, expandUrls, expandSources, splitSources, type ExpandedSource } from './shards/brace-expand.js';
export { getDatasetSize, resolveTrainNumSamples, UNKNOWN_SIZE_MESSAGE, type DatasetSize } from './shards/dataset-size.js';
export { shardsForWorker, parseUpsamplingFactors, ResampledShards, streamRng, type WorkerSlot } from './shards/shard-sampler.js';
export { webdatasetTrainCounts, webdatasetEvalCounts, mapStyleCounts, type EpochCounts } from './pipeline/epoch-counts.js';
export { openUrl, urlKind, checkShardExists, type UrlKind } from './sources/url-opener.js';
export { tarMembers, shardSamples, baseAndExt, sampleImage, IMAGE_EXTENSIONS, type WdsSample, type WdsEvent, type TarMember } from './sources/webdataset.js';
export { readCsvDataset, normaliseSeparator, type CsvOptions, type CsvRows } from './sources/csv.js';
export { scanImageFolder, IMAGE_FOLDER_EXTENSIONS, type ImageFolderIndex, type ScanImageFolderOptions } from './sources/image-folder.js';
export {
  SYNTHETIC_SHAPES, SYNTHETIC_COLORS, SYNTHETIC_CLASSNAMES, SYNTHETIC_TEMPLATES,
  syntheticSpec, renderSynthetic, encodeSynthetic, withArticle,
  type SyntheticSpec, type SyntheticImage, type SyntheticImageFormat,
} from './synthetic/shapes.js';
export { writeSyntheticDataset, classFolderName, type WriteSyntheticOptions, type WriteSyntheticResult, type SyntheticLayout } from './synthetic/write-dataset.js';
export { shuffleBuffer, sampleShuffleSizes } from './pipeline/shuffle-buffer.js';
export { SkipCounter, SKIP_REASONS, type SkipReason, type SkipEvent, type SkipStats } from './pipeline/skip-stats.js';
export { buildTransform, buildTokenizer, type TransformFn, type TokenizeFn, type TransformSpec, type TokenizerSpec, type FactorySpec, type PreprocessSpec, type TokenizerPackageSpec } from './pipeline/specs.js';
export {
  createDataLoader, resolveDatasetType, DataLoader,
  type DataLoaderOptions, type DatasetType, type Batch, type DataPosition,
} from './pipeline/data-loader.js';
export type { WorkerBatch } from './pipeline/batcher.js';
export { DEFAULT_MAX_SKIP_RATIO } from './pipeline/epoch-health.js';
export { capWorkers, maxWorkers } from './pipeline/worker-cap.js';
