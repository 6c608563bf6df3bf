/**
 * TrainConfig: the validated parameters of a training run, as OpenCLIP's `parse_args` plus the
 * start-of-run checks of its `main.py` (model-dependent optimizer defaults, run name, flag
 * combinations that cannot work).
 */
import { nearestNames } from '@openclip/common';
import { TRAIN_PARAMS, PARAMS_BY_FLAG, type ParamSpec, type TableTrainConfig, type TrainConfig, type TrainParamKey } from './params.js';
import { remotePathProblems } from './remote-paths.js';

export type { TrainConfig, TableTrainConfig } from './params.js';

export class TrainConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? problems[0] : `invalid training configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'TrainConfigError';
  }
}

function coerce(spec: ParamSpec, value: unknown, problems: string[]): unknown {
  if (value === null || value === undefined) return null;
  const where = `--${spec.flag}`;
  const num = (v: unknown, int: boolean): number | null => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    if (!Number.isFinite(n) || (int && !Number.isInteger(n))) {
      problems.push(`${where}: expected ${int ? 'an integer' : 'a number'}, got '${String(v)}'`);
      return null;
    }
    return n;
  };
  switch (spec.type) {
    case 'string':
      return String(value);
    case 'int':
      return num(value, true);
    case 'float':
      return num(value, false);
    case 'bool':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === 'false') return value === 'true';
      problems.push(`${where}: expected true or false, got '${String(value)}'`);
      return null;
    case 'floats':
    case 'ints': {
      const list = Array.isArray(value) ? value : String(value).split(/[\s,]+/).filter(Boolean);
      return list.map((v) => num(v, spec.type === 'ints'));
    }
    case 'kwargs':
      return typeof value === 'object' && !Array.isArray(value) ? value : parseKwargs(Array.isArray(value) ? value.map(String) : [String(value)], where, problems);
  }
}

/**
 * `key=value` pairs as OpenCLIP's ParseKwargs reads them: each value is a Python literal when it
 * parses as one (numbers, True/False/None, quoted strings, tuples/lists of those), else a string.
 */
export function parseKwargs(pairs: string[], where = '--aug-cfg', problems?: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const found: string[] = [];
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      found.push(`${where}: expected key=value, got '${pair}'`);
      continue;
    }
    out[pair.slice(0, eq)] = pythonLiteral(pair.slice(eq + 1));
  }
  if (found.length) {
    if (!problems) throw new TrainConfigError(found);
    problems.push(...found);
  }
  return out;
}

function pythonLiteral(text: string): unknown {
  const t = text.trim();
  if (t === 'True') return true;
  if (t === 'False') return false;
  if (t === 'None') return null;
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return Number(t);
  const quoted = /^'(.*)'$|^"(.*)"$/.exec(t);
  if (quoted) return quoted[1] ?? quoted[2];
  const seq = /^[([](.*)[)\]]$/.exec(t);
  if (seq) {
    const inner = seq[1].trim();
    if (inner === '') return [];
    return inner.split(',').map((s) => s.trim()).filter((s) => s !== '').map(pythonLiteral);
  }
  return text;
}

/** Python's repr() of a float, as OpenCLIP's default run name prints the learning rate. */
export function pythonFloatRepr(x: number): string {
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : x < 0 ? '-inf' : 'nan';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const exp = Math.floor(Math.log10(Math.abs(x)));
  if (exp < -4 || exp >= 16) {
    const [mant, e] = x.toExponential().split('e');
    const n = Number(e);
    return `${mant}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  const s = String(x);
  return s.includes('.') || s.includes('e') ? s : `${s}.0`;
}

/** OpenCLIP's get_default_params: optimizer defaults that depend on the model name. */
export function defaultOptimizerParams(model: string): { lr: number; beta1: number; beta2: number; eps: number } {
  return model.toLowerCase().includes('vit') ? { lr: 5e-4, beta1: 0.9, beta2: 0.98, eps: 1e-6 } : { lr: 5e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** OpenCLIP's default run name: date-model-lr-batch-workers-precision. */
export function defaultRunName(cfg: Pick<TrainConfig, 'model' | 'lr' | 'batchSize' | 'workers' | 'precision'>, now = new Date()): string {
  const date = `${now.getFullYear()}_${pad2(now.getMonth() + 1)}_${pad2(now.getDate())}-${pad2(now.getHours())}_${pad2(now.getMinutes())}_${pad2(now.getSeconds())}`;
  const model = cfg.model.replace(/\//g, '-');
  return `${date}-model_${model}-lr_${pythonFloatRepr(cfg.lr)}-b_${cfg.batchSize}-j_${cfg.workers}-p_${cfg.precision}`;
}

const PARAMS_BY_KEY: ReadonlyMap<string, ParamSpec<TrainParamKey>> = new Map(TRAIN_PARAMS.map((s) => [s.key, s]));

/** Flags OpenCLIP has whose job TensorFlow.js or the TCP collectives do without: what giving one means here. */
const NO_EFFECT: Record<string, string> = {
  ddpStaticGraph: '--ddp-static-graph has no effect: the data-parallel step here has no DDP graph to make static',
  noSetDeviceRank: '--no-set-device-rank has no effect: TensorFlow.js uses the visible GPU (pick it with CUDA_VISIBLE_DEVICES)',
  wandbNotes: '--wandb-notes has no effect: wandb is not available (use --report-to tensorboard)',
  wandbProjectName: '--wandb-project-name has no effect: wandb is not available (use --report-to tensorboard)',
  remoteSyncFrequency: '--remote-sync-frequency has no effect without --remote-sync (which openclip-ts does not do)',
  remoteSyncProtocol: '--remote-sync-protocol has no effect without --remote-sync (which openclip-ts does not do)',
};

export interface ParseOptions {
  /** Precisions the chosen backend can train in (fp32 on every TF.js backend). */
  supportedPrecisions?: readonly TrainConfig['precision'][];
  /** Backend name for messages. */
  backend?: string;
  now?: Date;
  /**
   * Receives one line for each choice made for the user, e.g. the precision used when
   * --precision was not given and OpenCLIP's default (amp) is not available on the backend.
   */
  notice?: (line: string) => void;
}

/**
 * Validates parameters (keys are flag names like `batch-size` or camelCase keys like
 * `batchSize`), fills OpenCLIP's defaults and applies its start-of-run checks. Every problem
 * found is reported at once.
 */
export function parseTrainConfig(values: Record<string, unknown>, options: ParseOptions = {}): TrainConfig {
  const problems: string[] = [];
  const given = new Map<string, unknown>();
  for (const [k, v] of Object.entries(values)) {
    const spec = PARAMS_BY_FLAG.get(k.replace(/^--/, '').replace(/_/g, '-')) ?? PARAMS_BY_KEY.get(k);
    if (!spec) {
      problems.push(`unknown parameter '${k}' (did you mean ${nearestNames(k, TRAIN_PARAMS.map((s) => s.flag)).map((n) => `--${n}`).join(', ')}?)`);
      continue;
    }
    if (v !== undefined) given.set(spec.key, v);
  }
  const cfg: Record<string, unknown> = {};
  for (const spec of TRAIN_PARAMS) {
    const raw = given.has(spec.key) ? given.get(spec.key) : spec.default;
    const v = coerce(spec, raw, problems);
    cfg[spec.key] = v === null && spec.type === 'bool' ? false : v;
    if (spec.choices && v !== null && !spec.choices.includes(String(v))) {
      problems.push(`--${spec.flag}: '${String(v)}' is not one of ${spec.choices.join(', ')}`);
    }
    const why = spec.unsupported?.(cfg[spec.key]);
    if (why) problems.push(why);
  }
  // every value was coerced to its row's type (or reported in `problems`, which stop the run below)
  const table = cfg as TableTrainConfig;
  const defaults = defaultOptimizerParams(table.model);
  const c = { ...table, lr: table.lr ?? defaults.lr, beta1: table.beta1 ?? defaults.beta1, beta2: table.beta2 ?? defaults.beta2, eps: table.eps ?? defaults.eps };

  const positive = ['batchSize', 'epochs', 'accumFreq', 'logEveryNSteps'] as const;
  for (const k of positive) {
    if (typeof c[k] === 'number' && c[k] < 1) problems.push(`--${PARAMS_BY_KEY.get(k)!.flag} must be at least 1, got ${c[k]}`);
  }
  // OpenCLIP: --save-frequency 0 saves no epoch_K in between, only the final epoch (and epoch_latest)
  if (c.saveFrequency < 0) problems.push(`--save-frequency must be 0 or more, got ${c.saveFrequency}`);
  if (c.workers < 0) problems.push(`--workers must be 0 or more, got ${c.workers}`);
  if (!(c.maxSkipRatio >= 0 && c.maxSkipRatio <= 1)) problems.push(`--max-skip-ratio must be between 0 and 1, got ${c.maxSkipRatio}`);
  if (c.saveEveryNSteps !== null && c.saveEveryNSteps < 1) problems.push(`--save-every-n-steps must be at least 1, got ${c.saveEveryNSteps}`);
  if (c.resumeStartOver && c.resume !== 'latest') problems.push('--resume-start-over only applies to --resume latest');
  if (c.warmup < 0) problems.push(`--warmup must be 0 or more, got ${c.warmup}`);
  if (c.trainDataUpsamplingFactors !== null) {
    if (!c.datasetResampled) problems.push('--train-data-upsampling-factors is only supported together with --dataset-resampled');
    const sources = (c.trainData ?? '').split('::').length;
    const factors = c.trainDataUpsamplingFactors.split('::');
    if (c.trainData && factors.length !== sources) {
      problems.push(`--train-data-upsampling-factors has ${factors.length} factors but --train-data has ${sources} sources`);
    }
    for (const f of factors) if (!(Number(f) >= 0) || f.trim() === '') problems.push(`--train-data-upsampling-factors: '${f}' is not a non-negative number`);
  }
  if ((c.distillModel === null) !== (c.distillPretrained === null)) {
    problems.push('--distill-model and --distill-pretrained must be given together');
  }
  if (c.distillModel !== null && c.accumFreq !== 1) problems.push('distillation needs --accum-freq 1 (as OpenCLIP)');
  if (c.distillModel !== null && c.model.toLowerCase().includes('coca')) problems.push('distillation of CoCa models is not supported (as OpenCLIP)');
  if (c.lrScheduler === 'const-cooldown' && c.epochsCooldown === null) {
    problems.push('--lr-scheduler const-cooldown needs --epochs-cooldown');
  }
  if (c.lockImageUnlockedGroups < 0 || c.lockTextUnlockedLayers < 0) problems.push('unlocked groups/layers must be 0 or more');
  if (c.forceImageSize && c.forceImageSize.length !== 1 && c.forceImageSize.length !== 2) {
    problems.push(`--force-image-size takes one or two sizes, got ${c.forceImageSize.length}`);
  }
  for (const k of ['imageMean', 'imageStd'] as const) {
    const v = c[k];
    if (v && v.length !== 1 && v.length !== 3) problems.push(`--${k === 'imageMean' ? 'image-mean' : 'image-std'} takes 1 or 3 values, got ${v.length}`);
  }
  const supported = options.supportedPrecisions ?? ['fp32'];
  if (!given.has('precision') && !supported.includes(c.precision) && supported.length) {
    // a pasted OpenCLIP command line without --precision: OpenCLIP's default (amp) is a CUDA
    // mixed-precision mode; run in what the backend trains in and say so once
    options.notice?.(`--precision not given: training in ${supported[0]} (OpenCLIP's default ${c.precision} is not available on the ${options.backend ?? 'current'} backend)`);
    c.precision = supported[0];
  }
  if (!supported.includes(c.precision)) {
    problems.push(`--precision ${c.precision} is not available on the ${options.backend ?? 'current'} backend (supported: ${supported.join(', ')}); pass --precision fp32`);
  }
  problems.push(
    ...remotePathProblems({
      'train-data': c.trainData,
      'val-data': c.valData,
      'imagenet-val': c.imagenetVal,
      'imagenet-v2': c.imagenetV2,
      resume: c.resume,
      logs: c.logs,
      pretrained: c.pretrained,
      'distill-pretrained': c.distillPretrained,
      'cache-dir': c.cacheDir,
    }),
  );
  if (c.reportTo) {
    for (const r of c.reportTo.split(',').map((s) => s.trim()).filter(Boolean)) {
      if (r !== 'tensorboard' && r !== 'wandb' && r !== 'all') problems.push(`--report-to: unknown logger '${r}' (available: tensorboard)`);
    }
  }
  if (c.distBackend !== null && !['tcp', 'mpi', 'nccl', 'gloo'].includes(c.distBackend)) problems.push(`--dist-backend: unknown backend '${c.distBackend}' (tcp, the default; mpi for Open MPI; OpenCLIP's nccl / gloo select tcp)`);
  if (problems.length) throw new TrainConfigError(problems);
  if (c.distBackend === 'nccl' || c.distBackend === 'gloo') options.notice?.(`--dist-backend ${c.distBackend} is a PyTorch backend: ranks exchange over openclip-ts's TCP collectives (--dist-backend mpi selects Open MPI)`);
  // flags that change nothing here are said to, once each, rather than accepted silently
  for (const [key, why] of Object.entries(NO_EFFECT)) if (given.has(key) && cfg[key] !== false) options.notice?.(why);
  return { ...c, name: c.name ?? defaultRunName(c, options.now) };
}
