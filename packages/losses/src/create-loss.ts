/**
 * OpenCLIP's `create_loss(args)` (open_clip/factory.py): DistillClipLoss when distilling, else
 * CoCaLoss for a model whose name contains "coca", else SigLipLoss with `--siglip`, else ClipLoss.
 * Training losses always cache labels.
 */
import { ClipLoss } from './clip-loss.js';
import { CoCaLoss } from './coca-loss.js';
import { DistillClipLoss } from './distill-clip-loss.js';
import type { OpenClipLoss, WorldOptions } from './loss-api.js';
import { SigLipLoss } from './siglip-loss.js';
import type { SigLipDistImpl } from './siglip-loss.js';

/** The training arguments `create_loss` reads (OpenCLIP flag names in camelCase). */
export interface LossConfig extends WorldOptions {
  /** `--model`. */
  model: string;
  /** `--siglip`. */
  siglip?: boolean;
  /** `--distill-model` and `--distill-pretrained`: distillation needs both (OpenCLIP's `args.distill`). */
  distillModel?: string | null;
  distillPretrained?: string | null;
  /** `--local-loss`, `--gather-with-grad`. */
  localLoss?: boolean;
  gatherWithGrad?: boolean;
  /** `--coca-caption-loss-weight` (2.0), `--coca-contrastive-loss-weight` (1.0). */
  cocaCaptionLossWeight?: number;
  cocaContrastiveLossWeight?: number;
  /** `--loss-dist-impl` (SigLIP only; default bidir). */
  lossDistImpl?: SigLipDistImpl | null;
  /** `--horovod` is not supported here; true is an error. */
  horovod?: boolean;
}

export function createLoss(cfg: LossConfig): OpenClipLoss {
  if (typeof cfg.model !== 'string' || cfg.model === '') throw new Error("createLoss: 'model' (--model) is required");
  if (cfg.horovod) throw new Error('createLoss: --horovod is not supported (use the collective of the distributed launcher)');
  const world: WorldOptions = { rank: cfg.rank, worldSize: cfg.worldSize, collective: cfg.collective };
  const distill = Boolean(cfg.distillModel) && Boolean(cfg.distillPretrained);
  const contrastive = { ...world, localLoss: cfg.localLoss ?? false, gatherWithGrad: cfg.gatherWithGrad ?? false, cacheLabels: true };
  if (distill) return new DistillClipLoss(contrastive);
  if (cfg.model.toLowerCase().includes('coca')) {
    return new CoCaLoss({
      ...contrastive,
      captionLossWeight: cfg.cocaCaptionLossWeight ?? 2.0,
      clipLossWeight: cfg.cocaContrastiveLossWeight ?? 1.0,
    });
  }
  if (cfg.siglip) return new SigLipLoss({ ...world, distImpl: cfg.lossDistImpl ?? null });
  return new ClipLoss(contrastive);
}
