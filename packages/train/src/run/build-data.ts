/**
 * The data room: the loaders of a run. Rank 0 opens the evaluation sets (--val-data; zero-shot on
 * --imagenet-val / --imagenet-v2, or a held-out synthetic set for synthetic training data); every
 * rank opens its share of the training data.
 */
import { createDataLoader, capWorkers, SYNTHETIC_CLASSNAMES, type DataLoader, type DataLoaderOptions, type PreprocessConfig } from '@openclip/data';
import type { Template } from '@openclip/models';
import type { TrainConfig } from '../config/train-config.js';
import { zeroShotClasses, syntheticZeroShot } from '../eval/evaluate.js';
import type { RunLogger } from '../run-logger.js';
import type { Closeables } from './closeables.js';

export interface ZeroShotSet {
  loader: DataLoader;
  classnames: string[];
  templates: Template[];
  /** Metric prefix: imagenet, imagenetv2 or synthetic. */
  prefix: string;
}

export interface EvalData {
  val: DataLoader | null;
  zeroShot: ZeroShotSet[];
}

type CommonOptions = Omit<DataLoaderOptions, 'isTrain' | 'transform'> & { syntheticImageSize: number; seed: number };

/** The loader options every split shares. */
export function commonDataOptions(cfg: TrainConfig, o: { rank: number; worldSize: number; preprocessCfg: PreprocessConfig; contextLength: number; log: RunLogger }): CommonOptions {
  const imageSize = Array.isArray(o.preprocessCfg.image_size) ? o.preprocessCfg.image_size[0] : o.preprocessCfg.image_size;
  return {
    datasetType: cfg.datasetType,
    batchSize: cfg.batchSize,
    workers: capWorkers(cfg.workers, (m) => o.log.info(`data: ${m}`)), // said once, not per loader
    maxSkipRatio: cfg.maxSkipRatio,
    rank: o.rank,
    worldSize: o.worldSize,
    seed: cfg.seed,
    csvSeparator: cfg.csvSeparator,
    csvImgKey: cfg.csvImgKey,
    csvCaptionKey: cfg.csvCaptionKey,
    syntheticImageSize: Math.max(imageSize, 32),
    tokenizer: { kind: 'tokenizer', contextLength: o.contextLength },
    log: (m: string) => o.log.info(`data: ${m}`),
  };
}

/** Rank 0's evaluation loaders (none on the other ranks). */
export async function buildEvalData(cfg: TrainConfig, common: CommonOptions, o: { master: boolean; preprocessCfg: PreprocessConfig; log: RunLogger; closeables: Closeables }): Promise<EvalData> {
  const { master, log } = o;
  const evalTransform = () => ({ kind: 'preprocess' as const, config: { ...o.preprocessCfg }, isTrain: false });
  let val: DataLoader | null = null;
  if (master && (cfg.valData || (cfg.datasetType === 'synthetic' && cfg.valNumSamples))) {
    const loader = await createDataLoader({ ...common, seed: cfg.seed + 1, data: cfg.valData, isTrain: false, numSamples: cfg.valNumSamples, transform: evalTransform() });
    o.closeables.add(() => loader.close());
    val = loader;
  }
  // zero-shot: --imagenet-val folder, or for synthetic training data a held-out synthetic set
  const zeroShot: ZeroShotSet[] = [];
  if (master && (cfg.imagenetVal || cfg.imagenetV2)) {
    for (const [dir, prefix] of [[cfg.imagenetVal, 'imagenet'], [cfg.imagenetV2, 'imagenetv2']] as const) {
      if (!dir) continue;
      const loader = await createDataLoader({ ...common, data: dir, datasetType: 'imagefolder', imageFolderLabels: prefix === 'imagenetv2' ? 'numeric' : 'sorted', isTrain: false, tokenizer: null, transform: evalTransform() });
      o.closeables.add(() => loader.close());
      const z = zeroShotClasses(loader.classes ?? []);
      log.info(`zero-shot evaluation on ${dir}: ${loader.numSamples} images, ${z.classnames.length} classes named as ${z.kind}`);
      zeroShot.push({ loader, classnames: z.classnames, templates: z.templates, prefix });
    }
  } else if (master && cfg.datasetType === 'synthetic') {
    const n = Math.max(SYNTHETIC_CLASSNAMES.length * 4, cfg.valNumSamples ?? 0);
    const loader = await createDataLoader({ ...common, seed: cfg.seed + 1000, data: null, isTrain: false, numSamples: n, transform: evalTransform() });
    o.closeables.add(() => loader.close());
    zeroShot.push({ loader, ...syntheticZeroShot(), prefix: 'synthetic' });
    log.info(
      `zero-shot evaluation on ${n} held-out synthetic images of ${SYNTHETIC_CLASSNAMES.length} classes (chance ${(100 / SYNTHETIC_CLASSNAMES.length).toFixed(1)}%); ` +
        `the same images as: openclip make-dataset --type imagefolder --num-samples ${n} --image-size ${common.syntheticImageSize} --seed ${cfg.seed + 1000} --out DIR`,
    );
  }
  return { val, zeroShot };
}

/** This rank's training loader, with the training augmentation (--aug-cfg). */
export async function buildTrainData(cfg: TrainConfig, common: CommonOptions, o: { preprocessCfg: PreprocessConfig; closeables: Closeables }): Promise<DataLoader> {
  const train = await createDataLoader({
    ...common,
    data: cfg.trainData,
    isTrain: true,
    numSamples: cfg.trainNumSamples,
    datasetResampled: cfg.datasetResampled,
    upsamplingFactors: cfg.trainDataUpsamplingFactors,
    transform: { kind: 'preprocess', config: { ...o.preprocessCfg }, isTrain: true, aug: cfg.augCfg },
  });
  o.closeables.add(() => train.close());
  return train;
}
