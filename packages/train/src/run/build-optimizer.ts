/**
 * The optimizer room: the loss (CLIP, SigLIP, CoCa or distillation, with the ranks' collective),
 * AdamW with OpenCLIP's weight-decay groups over the trainable parameters, the step (one process or
 * data-parallel) and the learning-rate schedule over the run's optimizer steps.
 */
import { createLoss, collectiveFromTransport, type ArrayTransport, type OpenClipLoss } from '@openclip/losses';
import type { OpenClipModel } from '@openclip/models';
import type { TrainConfig } from '../config/train-config.js';
import { DistributedTrainStep } from '../distributed/ddp-step.js';
import { AdamW } from '../optim/adamw.js';
import { openclipParamGroups } from '../optim/param-groups.js';
import { createLrScheduler, type LrSchedule } from '../scheduler/lr-schedule.js';
import { TrainStep, type MicroBatch, type StepResult } from '../train-step.js';
import type { Closeables } from './closeables.js';

/** What turns micro-batches into one optimizer step (TrainStep or DistributedTrainStep). */
export interface Stepper {
  run(microBatches: MicroBatch[], lr: number): StepResult | Promise<StepResult>;
}

export interface BuiltOptimizer {
  loss: OpenClipLoss;
  optimizer: AdamW;
  step: Stepper;
  /** Optimizer steps per epoch (training batches / --accum-freq). */
  stepsPerEpoch: number;
  /** The learning rate of an optimizer step. */
  schedule: LrSchedule;
}

export function buildOptimizer(
  cfg: TrainConfig,
  o: { model: OpenClipModel; teacher: OpenClipModel | null; rank: number; worldSize: number; transport: ArrayTransport | null; trainBatches: number; closeables: Closeables },
): BuiltOptimizer {
  const { model, rank, worldSize, transport } = o;
  const collective = transport && worldSize > 1 ? collectiveFromTransport(transport) : undefined;
  const loss = createLoss({
    model: cfg.model,
    rank,
    worldSize,
    collective,
    localLoss: cfg.localLoss,
    gatherWithGrad: cfg.gatherWithGrad,
    siglip: cfg.siglip,
    lossDistImpl: cfg.lossDistImpl,
    cocaCaptionLossWeight: cfg.cocaCaptionLossWeight,
    cocaContrastiveLossWeight: cfg.cocaContrastiveLossWeight,
    distillModel: cfg.distillModel,
    distillPretrained: cfg.distillPretrained,
  });
  o.closeables.add(() => loss.dispose());
  const trainable = [...model.params.entries()].filter(([k, v]) => v.trainable && !model.frozen.has(k)).map(([k]) => k);
  const groups = openclipParamGroups(new Map(trainable.map((k) => [k, { shape: model.params.get(k)!.shape }])), cfg.wd);
  const optimizer = new AdamW(model.params, { lr: cfg.lr, betas: [cfg.beta1, cfg.beta2], eps: cfg.eps, groups });
  const stepOptions = { trainable, gradClipNorm: cfg.gradClipNorm, teacher: o.teacher };
  const step: Stepper = worldSize > 1 && transport ? new DistributedTrainStep(model, loss, optimizer, transport, stepOptions) : new TrainStep(model, loss, optimizer, stepOptions);
  const stepsPerEpoch = Math.floor(o.trainBatches / cfg.accumFreq);
  if (stepsPerEpoch < 1) throw new Error(`--accum-freq ${cfg.accumFreq} is more than the ${o.trainBatches} batches of an epoch`);
  const totalSteps = stepsPerEpoch * cfg.epochs;
  const schedule: LrSchedule = cfg.skipScheduler
    ? () => cfg.lr
    : createLrScheduler({ lrScheduler: cfg.lrScheduler, lr: cfg.lr, warmup: cfg.warmup, totalSteps, cooldownSteps: cfg.epochsCooldown !== null ? stepsPerEpoch * cfg.epochsCooldown : null, lrCooldownPower: cfg.lrCooldownPower, lrCooldownEnd: cfg.lrCooldownEnd });
  return { loss, optimizer, step, stepsPerEpoch, schedule };
}
