/**
 * `openclip eval`: OpenCLIP's evaluation-only run (main.py without --train-data) — zero-shot
 * top-1/top-5 on an image folder with OpenCLIP's class names and templates, and contrastive loss
 * plus retrieval metrics on a captioned validation set.
 */
import { initEngine } from '@openclip/engine';
import { createModelAndTransforms, getTokenizerAsync, type FactoryOptions } from '@openclip/models';
import { createDataLoader, type DatasetType } from '@openclip/data';
import { evaluateRetrieval, evaluateZeroShot, zeroShotClasses, type Metrics } from './evaluate.js';
import { downloadProgress } from '../progress.js';
import { remotePathProblems } from '../config/remote-paths.js';

export interface EvalOptions {
  model: string;
  pretrained?: string | null;
  imagenetVal?: string | null;
  imagenetV2?: string | null;
  valData?: string | null;
  valNumSamples?: number | null;
  datasetType?: DatasetType;
  csvSeparator?: string;
  csvImgKey?: string;
  csvCaptionKey?: string;
  batchSize?: number;
  workers?: number;
  backend?: string;
  cacheDir?: string;
  factory?: Omit<FactoryOptions, 'pretrained' | 'backend' | 'cacheDir'>;
  log?: (line: string) => void;
  /** Progress bars for downloads, the classifier and the images (default: stderr is a TTY). */
  progress?: boolean;
}

export interface EvalResult {
  model: string;
  pretrained: string | null;
  checkpoint: string | null;
  metrics: Metrics;
}

export async function runEvaluation(o: EvalOptions): Promise<EvalResult> {
  if (!o.imagenetVal && !o.imagenetV2 && !o.valData) throw new Error('nothing to evaluate: give --imagenet-val, --imagenet-v2 and/or --val-data');
  const remote = remotePathProblems({ pretrained: o.pretrained, 'imagenet-val': o.imagenetVal, 'imagenet-v2': o.imagenetV2, 'val-data': o.valData, 'cache-dir': o.cacheDir });
  if (remote.length) throw new Error(remote.join('\n'));
  const log = o.log ?? (() => {});
  await initEngine({ backend: o.backend });
  const progress = o.progress ?? Boolean(process.stderr.isTTY);
  const dl = downloadProgress({ enabled: progress });
  const built = await createModelAndTransforms(o.model, { ...o.factory, pretrained: o.pretrained ?? null, cacheDir: o.cacheDir, onDownloadProgress: dl.onDownloadProgress }).finally(dl.stop);
  const model = built.model;
  const closers: (() => unknown)[] = [() => model.dispose()];
  try {
    if (!built.checkpoint) log('warning: no --pretrained weights: evaluating a randomly initialised model');
    const contextLength = model.config.text_cfg.context_length;
    const tokenizer = await getTokenizerAsync(o.model, { contextLength, cacheDir: o.cacheDir });
    const common = { batchSize: o.batchSize ?? 64, workers: o.workers ?? 2, isTrain: false as const, transform: { kind: 'preprocess' as const, config: { ...built.preprocessCfg }, isTrain: false } };
    const metrics: Metrics = {};
    for (const [dir, prefix] of [[o.imagenetVal, 'imagenet'], [o.imagenetV2, 'imagenetv2']] as const) {
      if (!dir) continue;
      const loader = await createDataLoader({ ...common, data: dir, datasetType: 'imagefolder', imageFolderLabels: prefix === 'imagenetv2' ? 'numeric' : 'sorted', tokenizer: null });
      closers.push(() => loader.close());
      const z = zeroShotClasses(loader.classes ?? []);
      log(`zero-shot on ${dir}: ${loader.numSamples} images, ${z.classnames.length} classes (${z.kind})`);
      Object.assign(metrics, await evaluateZeroShot(model, tokenizer, loader, z.classnames, z.templates, prefix, { progress }));
    }
    if (o.valData) {
      const loader = await createDataLoader({
        ...common,
        data: o.valData,
        datasetType: o.datasetType ?? 'auto',
        numSamples: o.valNumSamples ?? null,
        csvSeparator: o.csvSeparator,
        csvImgKey: o.csvImgKey,
        csvCaptionKey: o.csvCaptionKey,
        tokenizer: { kind: 'tokenizer', contextLength },
      });
      closers.push(() => loader.close());
      log(`retrieval on ${o.valData}: ${loader.numSamples} image-text pairs`);
      const r = await evaluateRetrieval(model, loader, 0, { progress });
      delete r.epoch;
      Object.assign(metrics, r);
    }
    return { model: o.model, pretrained: o.pretrained ?? null, checkpoint: built.checkpoint, metrics };
  } finally {
    for (const c of closers.reverse()) await c();
  }
}
