// @openclip/train: OpenCLIP's training loop and what it is built from.

// Optimisation (torch.optim.AdamW with OpenCLIP's parameter groups, clipping, clamp, LR schedules)
export { AdamW, adamwUpdate } from './optim/adamw.js';
export type { AdamWOptimizerOptions, AdamWHyper, AdamWKernel, StepOptions } from './optim/adamw.js';
export { openclipParamGroups, excludeFromWeightDecay } from './optim/param-groups.js';
export type { ParamGroup, ParamInfo } from './optim/param-groups.js';
export { clipGradNorm, gradNorm, clipCoefficient, scaleGradients } from './optim/grad-clip.js';
export { clampLogitScale, LOGIT_SCALE_MAX } from './optim/logit-scale.js';
export { cosineLr, constLr, constLrCooldown, createLrScheduler, LR_SCHEDULERS } from './scheduler/lr-schedule.js';
export type { LrSchedule, LrSchedulerName, LrSchedulerConfig } from './scheduler/lr-schedule.js';

// Configuration (the 90 flags of OpenCLIP 3.1.0's params.py, one parser)
export { TRAIN_PARAMS, PARAMS_BY_FLAG } from './config/params.js';
export type { ParamSpec, ParamType } from './config/params.js';
export { parseTrainConfig, parseKwargs, defaultRunName, defaultOptimizerParams, pythonFloatRepr, TrainConfigError } from './config/train-config.js';
export type { TrainConfig, ParseOptions } from './config/train-config.js';

// The training run (open_clip_train/main.py) and its step (train.py)
export { runTraining } from './main.js';
export type { TrainRunOptions, TrainRunResult, EpochRecord } from './main.js';
export { TrainStep, lossInput } from './train-step.js';
export type { MicroBatch, StepResult, TrainStepOptions } from './train-step.js';

// Checkpoints (model safetensors + state safetensors pairs)
export { saveCheckpoint, loadCheckpoint, readCheckpointMeta, findLatestCheckpoint, deleteCheckpoint, checkpointPaths, CheckpointError, CHECKPOINT_FORMAT } from './checkpoint/checkpoint.js';
export type { CheckpointMeta, CheckpointContents } from './checkpoint/checkpoint.js';
export { chooseResumeLatest, surveyCheckpoints, removeStaleTemporaries } from './checkpoint/resume-latest.js';
export type { ResumeChoice, PairStatus } from './checkpoint/resume-latest.js';
// OpenCLIP trainer checkpoints (epoch_K.pt: {epoch, name, state_dict, optimizer})
export { loadTorchTrainerCheckpoint, saveTorchTrainerCheckpoint, torchAdamWToState, stateToTorchAdamW, findLatestTorchCheckpoint, isTorchCheckpointPath } from './checkpoint/torch-trainer.js';
export type { TorchTrainerCheckpoint, GroupLayout, TorchOptimizerHyper } from './checkpoint/torch-trainer.js';

// Evaluation (zero-shot, retrieval, validation loss)
export { clipMetrics } from './eval/retrieval-metrics.js';
export type { RetrievalMetrics } from './eval/retrieval-metrics.js';
export { evaluateRetrieval, evaluateZeroShot } from './eval/evaluate.js';
export type { Metrics } from './eval/evaluate.js';

// Progress bars (the one style of every command: cli-progress, 80 columns)
export { ProgressBar, renderProgressLine, formatRate, downloadProgress, PROGRESS_COLUMNS } from './progress.js';
export type { ProgressLine, ProgressBarOptions } from './progress.js';

// Logging (run folder, TensorBoard, plots)
export { RunLogger, writeParams, derivedParams } from './run-logger.js';
export type { DerivedParams } from './run-logger.js';
export { resolveDevice, engineUsesGpu, DeviceError } from './config/device.js';
export { TensorBoardWriter, crc32c, maskedCrc32c, tfRecord } from './logging/tensorboard.js';
export { writePlot, renderSvg, ticks } from './logging/plot.js';
export type { Panel, Series } from './logging/plot.js';

// Distributed (rank discovery, TCP and Open MPI collectives)
export { discoverWorld, expandSlurmHostlist, WorldError, DEFAULT_MASTER_PORT } from './distributed/world.js';
export type { WorldInfo, Launcher } from './distributed/world.js';
export { TcpTransport, TransportError, DEFAULT_DIST_TIMEOUT_S } from './distributed/tcp-transport.js';
export { transportOptionsFromEnv, SECRET_ENV, TIMEOUT_ENV, BIND_ENV } from './distributed/dist-env.js';
export type { TransportOptions } from './distributed/tcp-transport.js';
export { MpiTransport, mpiAvailability } from './distributed/mpi-transport.js';
export { chooseBackend, connectWorld, launchedByOpenMpi } from './distributed/backend.js';
export type { DistBackendName, Collectives } from './distributed/backend.js';
export { runEvaluation } from './eval/run-eval.js';
export type { EvalOptions, EvalResult } from './eval/run-eval.js';
export { zeroShotClasses, syntheticZeroShot } from './eval/evaluate.js';
