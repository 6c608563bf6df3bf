/**
 * The model room: the model and its transforms (--model, --pretrained and the --force-* / --image-*
 * overrides), the distillation teacher, the tower locks (--lock-image, --lock-text), gradient
 * checkpointing and the tokenizer.
 */
import { createModelAndTransforms, getTokenizerAsync, type OpenClipModel } from '@openclip/models';
import type { PreprocessConfig } from '@openclip/data';
import type { TextTokenizer } from '@openclip/tokenizer';
import type { TrainConfig } from '../config/train-config.js';
import { downloadProgress } from '../progress.js';
import type { RunLogger } from '../run-logger.js';
import type { Closeables } from './closeables.js';

export interface BuiltModels {
  model: OpenClipModel;
  /** The frozen distillation teacher (--distill-model), in eval mode. */
  teacher: OpenClipModel | null;
  preprocessCfg: PreprocessConfig;
  tokenizer: TextTokenizer;
  contextLength: number;
}

/** --image-mean / --image-std: one value for all channels, or three. */
function perChannel(values: number[]): [number, number, number] {
  return values.length === 1 ? [values[0], values[0], values[0]] : [values[0], values[1], values[2]];
}

type LockOptions = Pick<TrainConfig, 'model' | 'lockImage' | 'lockImageUnlockedGroups' | 'lockImageFreezeBnStats' | 'lockText' | 'lockTextUnlockedLayers' | 'lockTextFreezeLayerNorm'>;

/** --lock-image / --lock-text, as open_clip_train.main: a model that cannot lock stops the run, naming the flag and the model. */
export function lockTowers(model: OpenClipModel, cfg: LockOptions): void {
  const lock = (flag: string, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      throw new Error(`${flag} with --model ${cfg.model}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  };
  if (cfg.lockImage) lock('--lock-image', () => model.lockImageTower(cfg.lockImageUnlockedGroups, cfg.lockImageFreezeBnStats));
  if (cfg.lockText) lock('--lock-text', () => model.lockTextTower(cfg.lockTextUnlockedLayers, cfg.lockTextFreezeLayerNorm));
}

/** Builds the model (and teacher), registering each with `closeables` as soon as it exists. */
export async function buildModels(cfg: TrainConfig, o: { master: boolean; showBar: boolean; log: RunLogger; closeables: Closeables }): Promise<BuiltModels> {
  const { log } = o;
  const dl = downloadProgress({ enabled: o.master && o.showBar });
  const built = await createModelAndTransforms(cfg.model, {
    onDownloadProgress: dl.onDownloadProgress,
    pretrained: cfg.pretrained || null,
    forceQuickGelu: cfg.forceQuickGelu,
    forcePatchDropout: cfg.forcePatchDropout ?? undefined,
    forceCustomText: cfg.forceCustomText,
    forceImageSize: cfg.forceImageSize ? (cfg.forceImageSize.length === 1 ? cfg.forceImageSize[0] : [cfg.forceImageSize[0], cfg.forceImageSize[1]]) : undefined,
    forceContextLength: cfg.forceContextLength ?? undefined,
    imageMean: cfg.imageMean ? perChannel(cfg.imageMean) : undefined,
    imageStd: cfg.imageStd ? perChannel(cfg.imageStd) : undefined,
    imageInterpolation: cfg.imageInterpolation ?? undefined,
    imageResizeMode: cfg.imageResizeMode ?? undefined,
    augCfg: cfg.augCfg,
    cacheDir: cfg.cacheDir ?? undefined,
    seed: cfg.seed,
    // OpenCLIP's main.py: --siglip starts from logit_scale = log(10) and logit_bias = -10
    ...(cfg.siglip ? { initLogitScale: Math.log(10), initLogitBias: -10 } : {}),
  }).finally(dl.stop);
  const model = built.model;
  o.closeables.add(() => model.dispose());
  let teacher: OpenClipModel | null = null;
  if (cfg.distillModel) {
    const t = await createModelAndTransforms(cfg.distillModel, { pretrained: cfg.distillPretrained, cacheDir: cfg.cacheDir ?? undefined, seed: cfg.seed, onDownloadProgress: dl.onDownloadProgress }).finally(dl.stop);
    teacher = t.model;
    o.closeables.add(() => t.model.dispose());
    teacher.eval();
  }
  lockTowers(model, cfg);
  if (cfg.gradCheckpointing) {
    const towers = model.setGradCheckpointing(true);
    log.info(`--grad-checkpointing: the transformer blocks of ${towers.length ? towers.join(', ') : 'no tower'} recompute their activations in the backward pass${towers.includes('visual') ? '' : ' (a ModifiedResNet image tower has no blocks to checkpoint, as in OpenCLIP)'}`);
  }
  const contextLength = cfg.forceContextLength ?? model.config.text_cfg.context_length;
  const tokenizer = await getTokenizerAsync(cfg.model, { contextLength, cacheDir: cfg.cacheDir ?? undefined }); // an HF tokenizer (CLIPA, worldwide) on first use
  log.info(`Model ${cfg.model}${built.checkpoint ? ` (weights: ${built.checkpoint})` : ' (random init)'}: ${model.numParams().toLocaleString('en-US')} parameters`);
  return { model, teacher, preprocessCfg: built.preprocessCfg, tokenizer, contextLength };
}
