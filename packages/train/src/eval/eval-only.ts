/**
 * `openclip train` without --train-data: as open_clip_train.main, the run loads the model
 * (--pretrained, or the weights of --resume), evaluates once on what it was given (--val-data,
 * --imagenet-val, --imagenet-v2) at the checkpoint's epoch (0 without one), logs the metrics and
 * appends them to `checkpoints/results.jsonl`, and writes TensorBoard scalars when asked.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OpenClipModel, Template } from '@openclip/models';
import type { TextTokenizer } from '@openclip/tokenizer';
import type { DataLoader } from '@openclip/data';
import type { RawTensor } from '@openclip/engine';
import type { TrainConfig } from '../config/train-config.js';
import { loadCheckpoint, findLatestCheckpoint } from '../checkpoint/checkpoint.js';
import { isTorchCheckpointPath, loadTorchTrainerCheckpoint, findLatestTorchCheckpoint } from '../checkpoint/torch-trainer.js';
import { TensorBoardWriter } from '../logging/tensorboard.js';
import type { RunLogger } from '../run-logger.js';
import { evaluateRetrieval, evaluateZeroShot, type Metrics } from './evaluate.js';

export interface EvalOnlyInputs {
  cfg: TrainConfig;
  model: OpenClipModel;
  tokenizer: TextTokenizer;
  val: DataLoader | null;
  zeroShot: { loader: DataLoader; classnames: string[]; templates: Template[]; prefix: string }[];
  log: RunLogger;
  logDir: string | null;
  ckptDir: string | null;
  /** Progress bars for the evaluation (a terminal). */
  progress?: boolean;
}

/** Loads the model weights of a --resume checkpoint (our pair or an OpenCLIP epoch_K.pt) and returns its epoch. */
function loadResumeWeights(model: OpenClipModel, path: string): number {
  if (isTorchCheckpointPath(path)) {
    const ck = loadTorchTrainerCheckpoint(path);
    model.loadStateDict(ck.model, { strict: true, source: path });
    return ck.epoch;
  }
  const ck = loadCheckpoint(path);
  model.loadStateDict(ck.model as Map<string, RawTensor>, { strict: true, source: ck.modelPath });
  return ck.meta.epoch;
}

export async function evaluateOnly(x: EvalOnlyInputs): Promise<{ epoch: number; metrics: Metrics }> {
  const { cfg, model, log } = x;
  let epoch = 0;
  if (cfg.resume) {
    const path = cfg.resume === 'latest' ? (x.ckptDir ? findLatestCheckpoint(x.ckptDir) ?? findLatestTorchCheckpoint(x.ckptDir) : null) : cfg.resume;
    if (path) {
      epoch = loadResumeWeights(model, path);
      log.info(`=> loaded checkpoint '${path}' (epoch ${epoch}) for evaluation`);
    } else log.info(`--resume latest: no checkpoint in ${x.ckptDir ?? '(logging disabled)'}; evaluating the model as built`);
  }
  log.info(`no --train-data: evaluating only (${[cfg.valData && '--val-data', cfg.imagenetVal && '--imagenet-val', cfg.imagenetV2 && '--imagenet-v2'].filter(Boolean).join(', ')})`);
  const metrics: Metrics = {};
  if (x.val) Object.assign(metrics, await evaluateRetrieval(model, x.val, epoch, { progress: x.progress }));
  for (const z of x.zeroShot) Object.assign(metrics, await evaluateZeroShot(model, x.tokenizer, z.loader, z.classnames, z.templates, z.prefix, { progress: x.progress }));
  log.info(`Eval Epoch: ${epoch} ${Object.entries(metrics).map(([k, v]) => `${k}: ${Number.isInteger(v) ? v : v.toFixed(4)}`).join('\t')}`);
  if (x.ckptDir) appendFileSync(join(x.ckptDir, 'results.jsonl'), JSON.stringify(metrics) + '\n');
  if (x.logDir && cfg.reportTo.split(',').map((s) => s.trim()).includes('tensorboard')) {
    const tb = new TensorBoardWriter(join(x.logDir, 'tensorboard'));
    try {
      tb.addScalars(Object.fromEntries(Object.entries(metrics).map(([k, v]) => [`val/${k}`, v])), epoch);
    } finally {
      tb.close();
    }
  }
  return { epoch, metrics };
}
