/**
 * The `openclip train` parameters: every flag of OpenCLIP 3.1.0's `open_clip_train/params.py`,
 * with its name, type, default and help, in one table. The CLI builds its flags from this table,
 * `parseTrainConfig` validates a parsed set against it, and the `TrainConfig` type is derived from
 * it (see the end of this file), so the three never drift apart.
 */
import { FAULT_PARAMS } from './fault-params.js';
import { remotePathProblems } from './remote-paths.js';
import { param, type ParamSpec } from './param-spec.js';

export type { ParamSpec, ParamType, ParamGroup } from './param-spec.js';

const p = param;

const noTorch = (what: string) => (v: unknown) => (v ? `${what} is a PyTorch compiler feature with no TensorFlow.js equivalent; remove the flag` : null);

const TABLE = [
  // Data
  p('train-data', 'string', null, 'Data', 'Training data: CSV file, or webdataset shards with brace expansion; several sources joined with ::'),
  p('train-data-upsampling-factors', 'string', null, 'Data', 'Sampling weight of each :: source, e.g. 1::2::0.5 (needs --dataset-resampled)'),
  p('val-data', 'string', null, 'Data', 'Validation data (CSV or webdataset shards)'),
  p('train-num-samples', 'int', null, 'Data', 'Samples per training epoch (webdataset; else sizes.json or __len__ beside the shards)'),
  p('val-num-samples', 'int', null, 'Data', 'Samples in the validation set (webdataset)'),
  p('dataset-type', 'string', 'auto', 'Data', 'Dataset type', { choices: ['webdataset', 'csv', 'synthetic', 'auto'] }),
  p('dataset-resampled', 'bool', false, 'Data', 'Draw webdataset shards with replacement'),
  p('csv-separator', 'string', '\t', 'Data', 'CSV field separator'),
  p('csv-img-key', 'string', 'filepath', 'Data', 'CSV column holding image paths'),
  p('csv-caption-key', 'string', 'title', 'Data', 'CSV column holding captions'),
  p('imagenet-val', 'string', null, 'Data', 'ImageNet-style validation folder (root/class/*.jpg) for zero-shot evaluation'),
  p('imagenet-v2', 'string', null, 'Data', 'ImageNet-V2 folder for zero-shot evaluation'),
  p('cache-dir', 'string', null, 'Data', 'Cache folder for pretrained weights and tokenizers (default: the Hugging Face cache)'),
  p('workers', 'int', 4, 'Data', 'Data loader worker threads per process'),
  p('batch-size', 'int', 64, 'Data', 'Batch size per process'),
  // Optimisation
  p('epochs', 'int', 32, 'Optimisation', 'Number of epochs'),
  p('epochs-cooldown', 'int', null, 'Optimisation', 'Epochs of cool-down at the end of const-cooldown'),
  p('lr', 'float', null, 'Optimisation', 'Learning rate (default 5e-4)', { filledAtStart: true }),
  p('beta1', 'float', null, 'Optimisation', 'AdamW beta1 (default 0.9)', { filledAtStart: true }),
  p('beta2', 'float', null, 'Optimisation', 'AdamW beta2 (default 0.98 for ViT models, else 0.999)', { filledAtStart: true }),
  p('eps', 'float', null, 'Optimisation', 'AdamW epsilon (default 1e-6 for ViT models, else 1e-8)', { filledAtStart: true }),
  p('wd', 'float', 0.2, 'Optimisation', 'Weight decay'),
  p('momentum', 'float', null, 'Optimisation', 'Momentum (timm optimizers only)', {
    unsupported: (v) => (v !== null && v !== undefined ? '--momentum applies to timm optimizers, which openclip-ts does not have (only adamw)' : null),
  }),
  p('warmup', 'int', 10000, 'Optimisation', 'Linear warm-up steps'),
  p('opt', 'string', 'adamw', 'Optimisation', 'Optimizer', {
    unsupported: (v) => (v !== 'adamw' ? `--opt ${String(v)}: only adamw is available (timm optimizers need PyTorch)` : null),
  }),
  p('use-bn-sync', 'bool', false, 'Distributed', 'Synchronise BatchNorm statistics across processes', {
    unsupported: (v) => (v ? '--use-bn-sync: openclip-ts keeps BatchNorm statistics per process (no synchronised BatchNorm); remove the flag' : null),
  }),
  p('skip-scheduler', 'bool', false, 'Optimisation', 'Keep the learning rate constant at --lr (no schedule)'),
  p('lr-scheduler', 'string', 'cosine', 'Optimisation', 'Learning-rate schedule', { choices: ['cosine', 'const', 'const-cooldown'] }),
  p('lr-cooldown-end', 'float', 0.0, 'Optimisation', 'Final learning rate of the const-cooldown schedule'),
  p('lr-cooldown-power', 'float', 1.0, 'Optimisation', 'Power of the cool-down (1 = linear)'),
  p('accum-freq', 'int', 1, 'Optimisation', 'Update every N steps, accumulating features (OpenCLIP two-pass method)'),
  p('grad-clip-norm', 'float', null, 'Optimisation', 'Clip gradients to this global L2 norm'),
  p('seed', 'int', 0, 'Optimisation', 'Random seed'),
  // Model
  p('model', 'string', 'RN50', 'Model', 'Model: a built-in name or a path to a model-config JSON'),
  p('pretrained', 'string', '', 'Model', 'Pretrained weights: a tag, hf-hub:org/name, or a checkpoint path'),
  p('pretrained-image', 'bool', false, 'Model', 'Load ImageNet-pretrained weights into a timm image tower', {
    unsupported: (v) => (v ? '--pretrained-image loads timm tower weights; openclip-ts has no timm towers' : null),
  }),
  p('lock-image', 'bool', false, 'Model', 'Freeze the image tower (LiT)'),
  p('lock-image-unlocked-groups', 'int', 0, 'Model', 'Leave the last N layer groups of the image tower trainable'),
  p('lock-image-freeze-bn-stats', 'bool', false, 'Model', 'Freeze BatchNorm running statistics of a locked image tower'),
  p('lock-text', 'bool', false, 'Model', 'Freeze the text tower'),
  p('lock-text-unlocked-layers', 'int', 0, 'Model', 'Leave the last N layers of the text tower trainable'),
  p('lock-text-freeze-layer-norm', 'bool', false, 'Model', 'Freeze LayerNorm parameters of a locked text tower'),
  p('image-mean', 'floats', null, 'Model', 'Override the dataset mean (per channel)'),
  p('image-std', 'floats', null, 'Model', 'Override the dataset std (per channel)'),
  p('image-interpolation', 'string', null, 'Model', 'Override the resize interpolation', { choices: ['bicubic', 'bilinear', 'random'] }),
  p('image-resize-mode', 'string', null, 'Model', 'Override the inference resize mode', { choices: ['shortest', 'longest', 'squash'] }),
  p('aug-cfg', 'kwargs', {}, 'Model', 'Training augmentation, as key=value pairs (scale, color_jitter, gray_scale_prob, ...)'),
  p('grad-checkpointing', 'bool', false, 'Model', 'Recompute activations in the backward pass to save memory'),
  p('force-context-length', 'int', null, 'Model', 'Override the text context length'),
  p('force-image-size', 'ints', null, 'Model', 'Override the image size'),
  p('force-quick-gelu', 'bool', false, 'Model', 'Use QuickGELU activations (OpenAI weights)'),
  p('force-patch-dropout', 'float', null, 'Model', 'Override the patch dropout rate'),
  p('force-custom-text', 'bool', false, 'Model', 'Build the text tower as CustomTextCLIP (keys under text.)'),
  p('torchscript', 'bool', false, 'Model', 'PyTorch TorchScript (no equivalent)', { unsupported: noTorch('--torchscript') }),
  p('torchcompile', 'bool', false, 'Model', 'PyTorch torch.compile (no equivalent)', { unsupported: noTorch('--torchcompile') }),
  p('trace', 'bool', false, 'Model', 'PyTorch tracing (no equivalent)', { unsupported: noTorch('--trace') }),
  p('use-bnb-linear', 'string', null, 'Model', 'bitsandbytes int8 linear layers', {
    unsupported: (v) => (v ? '--use-bnb-linear needs bitsandbytes (CUDA + PyTorch); not available' : null),
  }),
  // Precision
  p('precision', 'string', 'amp', 'Precision', 'Floating-point precision', {
    choices: ['amp', 'amp_bf16', 'amp_bfloat16', 'bf16', 'fp16', 'pure_bf16', 'pure_fp16', 'fp32'],
  }),
  // Loss
  p('local-loss', 'bool', false, 'Loss', 'Compute the contrastive loss on local rows against gathered columns'),
  p('gather-with-grad', 'bool', false, 'Loss', 'All-gather features with their gradients'),
  p('siglip', 'bool', false, 'Loss', 'Use the SigLIP sigmoid loss'),
  p('loss-dist-impl', 'string', null, 'Loss', 'SigLIP distributed exchange', { choices: ['bidir', 'shift', 'reduce', 'gather'] }),
  // CoCa
  p('coca-caption-loss-weight', 'float', 2.0, 'CoCa', 'Weight of the caption loss'),
  p('coca-contrastive-loss-weight', 'float', 1.0, 'CoCa', 'Weight of the contrastive loss'),
  // Distillation
  p('distill-model', 'string', null, 'Distillation', 'Teacher model for distillation'),
  p('distill-pretrained', 'string', null, 'Distillation', 'Teacher weights'),
  // Evaluation
  p('zeroshot-frequency', 'int', 2, 'Evaluation', 'Zero-shot evaluation every N epochs'),
  p('val-frequency', 'int', 1, 'Evaluation', 'Validation every N epochs'),
  // Checkpoints
  p('save-frequency', 'int', 1, 'Checkpoints', 'Save a checkpoint every N epochs'),
  p('save-most-recent', 'bool', false, 'Checkpoints', 'Also keep epoch_latest, overwritten at each save'),
  p('delete-previous-checkpoint', 'bool', false, 'Checkpoints', 'Delete the previous epoch checkpoint after saving a new one'),
  p('resume', 'string', null, 'Checkpoints', 'Resume from a checkpoint: our epoch_K.safetensors pair, OpenCLIP\'s epoch_K.pt, or latest'),
  p('save-format', 'string', 'safetensors', 'Checkpoints', 'Checkpoint files: safetensors (epoch_K.safetensors + epoch_K.state.safetensors), pt (OpenCLIP\'s epoch_K.pt via torch.save format) or both', {
    choices: ['safetensors', 'pt', 'both'],
    openclipTs: true,
  }),
  // Logging
  p('logs', 'string', './logs/', 'Logging', 'Where to store run folders (none disables logging)'),
  p('log-local', 'bool', false, 'Logging', 'Log from every local rank, not only rank 0'),
  p('name', 'string', null, 'Logging', 'Run name (default: date-model-lr-batch-workers-precision)', { filledAtStart: true }),
  p('report-to', 'string', '', 'Logging', 'Comma list of loggers: tensorboard', {
    unsupported: (v) => (typeof v === 'string' && /(^|,)\s*(wandb|all)\s*(,|$)/.test(v) ? `--report-to ${v}: wandb is not available in openclip-ts (tensorboard is)` : null),
  }),
  p('wandb-notes', 'string', '', 'Logging', 'wandb notes (wandb is not available)'),
  p('wandb-project-name', 'string', 'open-clip', 'Logging', 'wandb project (wandb is not available)'),
  p('log-every-n-steps', 'int', 100, 'Logging', 'Log every N steps'),
  p('debug', 'bool', false, 'Logging', 'Verbose logging'),
  p('copy-codebase', 'bool', false, 'Logging', 'Copy the code into the run folder', {
    unsupported: (v) => (v ? '--copy-codebase copies a Python source tree; openclip-ts is an installed package (record its version instead)' : null),
  }),
  // Distributed
  p('dist-url', 'string', null, 'Distributed', 'URL of the rendezvous (tcp://host:port or env://)'),
  p('dist-backend', 'string', null, 'Distributed', 'Collective backend'),
  p('horovod', 'bool', false, 'Distributed', 'Horovod', { unsupported: (v) => (v ? '--horovod is not supported; use torchrun/SLURM/MPI launchers' : null) }),
  p('ddp-static-graph', 'bool', false, 'Distributed', 'DDP static graph optimisation (no effect needed)'),
  p('no-set-device-rank', 'bool', false, 'Distributed', 'Do not pick the device by local rank'),
  p('device', 'string', 'cuda', 'Distributed', 'Device: cuda runs on the GPU with @tensorflow/tfjs-node-gpu, else falls back to the CPU with a warning (as OpenCLIP); cpu; others are refused'),
  // Remote sync
  p('remote-sync', 'string', null, 'Remote sync', 'Sync the run folder to this remote path', {
    unsupported: (v) => (v ? remotePathProblems({ 'remote-sync': String(v) })[0] ?? `--remote-sync ${String(v)}: openclip-ts does not sync while training; sync the run folder (logs/<name>) yourself (aws s3 sync, rclone)` : null),
  }),
  p('remote-sync-frequency', 'int', 300, 'Remote sync', 'Seconds between remote syncs'),
  p('remote-sync-protocol', 'string', 's3', 'Remote sync', 'Remote sync protocol', { choices: ['s3', 'fsspec'] }),
  ...FAULT_PARAMS,
] as const;

type Row = (typeof TABLE)[number];

/** A TrainConfig key (the camelCase of a flag). */
export type TrainParamKey = Row['key'];

export const TRAIN_PARAMS: readonly ParamSpec<TrainParamKey>[] = TABLE;

export const PARAMS_BY_FLAG: ReadonlyMap<string, ParamSpec<TrainParamKey>> = new Map(TRAIN_PARAMS.map((s) => [s.flag, s]));

interface ValueTypes {
  string: string;
  int: number;
  float: number;
  bool: boolean;
  floats: number[];
  ints: number[];
  kwargs: Record<string, unknown>;
}

/** A row's value as the table leaves it: its choices (or type), null when the default is null (a bool is never null). */
type RawValue<S extends Row> = S['type'] extends 'bool'
  ? boolean
  : (S extends { choices: readonly (infer C)[] } ? C : ValueTypes[S['type']]) | (S['default'] extends null ? null : never);

/** The parameters as the table defines them, before parseTrainConfig fills the `filledAtStart` ones. */
export type TableTrainConfig = { [S in Row as S['key']]: RawValue<S> };

type FilledKey = Extract<Row, { filledAtStart: true }>['key'];

/** The validated parameters of a run (parseTrainConfig's result), derived from the table: one field per flag. */
export type TrainConfig = Omit<TableTrainConfig, FilledKey> & { [K in FilledKey]: NonNullable<TableTrainConfig[K]> };
