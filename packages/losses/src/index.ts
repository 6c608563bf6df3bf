// @openclip/losses: OpenCLIP's training objectives and the collectives they run on.

// Losses (open_clip/loss.py)
export { ClipLoss } from './clip-loss.js';
export type { ClipLossOptions, GatheredFeatures } from './clip-loss.js';
export { SigLipLoss, SIGLIP_DIST_IMPLS } from './siglip-loss.js';
export type { SigLipLossOptions, SigLipDistImpl } from './siglip-loss.js';
export { CoCaLoss } from './coca-loss.js';
export type { CoCaLossOptions } from './coca-loss.js';
export { DistillClipLoss } from './distill-clip-loss.js';

// Choosing a loss (open_clip/factory.py create_loss)
export { createLoss } from './create-loss.js';
export type { LossConfig } from './create-loss.js';

// The common loss API
export { valueAndGradsOf } from './loss-api.js';
export type { ModelOutput, LossAndGrads, OpenClipLoss, GradKey, WorldOptions } from './loss-api.js';

// Cross-entropy forms
export { crossEntropy, crossEntropyIgnoring, softTargetCrossEntropy } from './cross-entropy.js';

// Collectives (torch.distributed stand-ins)
export { SingleProcessCollective, CollectiveError, REDUCE_OPS } from './collective.js';
export type { Collective, ReduceOp } from './collective.js';
export { collectiveFromTransport } from './collective-from-transport.js';
export type { ArrayTransport } from './collective-from-transport.js';
export { allGatherWithGrad, allReduceWithGrad, exchangeWithGrad, exchangeBidirWithGrad } from './distributed-grad.js';
