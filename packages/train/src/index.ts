// @openclip/train: OpenCLIP's training loop and what it is built from.

// Optimisation (torch.optim.AdamW with OpenCLIP's parameter groups, clipping, clamp, LR schedules)
export { AdamW, adamwUpdate } from './optim/adamw.js';
export type { AdamWOptions, AdamWHyper, StepOptions } from './optim/adamw.js';
export { openclipParamGroups, excludeFromWeightDecay } from './optim/param-groups.js';
export type { ParamGroup, ParamInfo } from './optim/param-groups.js';
export { clipGradNorm, gradNorm, clipCoefficient, scaleGradients } from './optim/grad-clip.js';
export { clampLogitScale, LOGIT_SCALE_MAX } from './optim/logit-scale.js';
export { cosineLr, constLr, constLrCooldown, createLrScheduler, LR_SCHEDULERS } from './scheduler/lr-schedule.js';
export type { LrSchedule, LrSchedulerName, LrSchedulerConfig } from './scheduler/lr-schedule.js';
