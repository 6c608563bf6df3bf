/**
 * `openclip train` as a library call: OpenCLIP's `open_clip_train/main.py` for one process —
 * run folder and logs, model and transforms, data, loss, AdamW + schedule, the epoch loop with
 * logging and progress, evaluation, checkpoints and resume. Rank and world size are carried
 * through every piece so the distributed launcher can drive the same loop.
 */
import { existsSync, mkdirSync, appendFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initEngine, tf, Rng, type RawTensor, type TensorToWrite } from '@openclip/engine';
import { createModelAndTransforms, getTokenizerAsync, modelConfigToJson, type OpenClipModel, type Template } from '@openclip/models';
import { createLoss, collectiveFromTransport, type ArrayTransport } from '@openclip/losses';
import { DistributedTrainStep, broadcastModel } from './distributed/ddp-step.js';
import { createDataLoader, capWorkers, SYNTHETIC_CLASSNAMES, type DataLoader, type DataPosition } from '@openclip/data';
import type { TrainConfig } from './config/train-config.js';
import { AdamW } from './optim/adamw.js';
import { openclipParamGroups } from './optim/param-groups.js';
import { createLrScheduler } from './scheduler/lr-schedule.js';
import { TrainStep, type MicroBatch } from './train-step.js';
import { saveCheckpoint, loadCheckpoint, deleteCheckpoint } from './checkpoint/checkpoint.js';
import { chooseResumeLatest, removeStaleTemporaries, surveyCheckpoints } from './checkpoint/resume-latest.js';
import { captureRng, gatherRankStates, restoreRng, savedRankState } from './checkpoint/run-state.js';
import { TensorBoardWriter } from './logging/tensorboard.js';
import { writePlot, type Panel } from './logging/plot.js';
import { RunLogger, writeParams, derivedParams, type LogSink } from './run-logger.js';
import { resolveDevice } from './config/device.js';
import { evaluateRetrieval, evaluateZeroShot, zeroShotClasses, syntheticZeroShot, type Metrics } from './eval/evaluate.js';
import { ProgressBar, formatRate, downloadProgress } from './progress.js';
import { evaluateOnly } from './eval/eval-only.js';
import { isTorchCheckpointPath, findLatestTorchCheckpoint } from './checkpoint/torch-trainer.js';
import { resumeFromTorchCheckpoint, saveTorchEpoch, deleteTorchEpoch } from './checkpoint/torch-resume.js';

export interface TrainRunOptions {
  /** 'auto' or a backend name (the CLI's --backend). */
  backend?: string;
  /** Where log lines go (default: stdout). */
  log?: LogSink;
  /** Show a progress bar (default: when stderr is a TTY). */
  progress?: boolean;
  rank?: number;
  worldSize?: number;
  /** The collective transport joining the ranks (required when worldSize > 1). */
  transport?: ArrayTransport | null;
  /** Log from every rank (--log-local), not only rank 0. */
  logLocal?: boolean;
  /** Stop after this many optimizer steps in total (tests, smoke runs); the run is then not finished. */
  maxSteps?: number;
}

export interface EpochRecord {
  epoch: number;
  steps: number;
  meanLoss: number;
  samplesPerSecond: number;
  metrics: Metrics;
}

export interface TrainRunResult {
  name: string;
  logDir: string | null;
  checkpoints: string[];
  epochs: EpochRecord[];
  /** The last evaluation's metrics. */
  metrics: Metrics;
  steps: number;
  /** Per-logged-step loss, for plots and tests. */
  losses: [number, number][];
}

function fmtSeconds(s: number): string {
  return s.toFixed(3);
}

function toTensors(b: { images: Float32Array; imageShape: number[]; tokens?: Int32Array; tokenShape?: number[] }): MicroBatch {
  if (!b.tokens || !b.tokenShape) throw new Error('training batches need captions');
  return {
    images: tf.tensor4d(b.images, b.imageShape as [number, number, number, number]),
    tokens: tf.tensor2d(b.tokens, b.tokenShape as [number, number], 'int32'),
  };
}

function snapshotModel(model: OpenClipModel): Map<string, TensorToWrite> {
  const out = new Map<string, TensorToWrite>();
  for (const [k, v] of model.stateDict()) {
    const data = v.dtype === 'int32' ? BigInt64Array.from(v.dataSync() as Int32Array, (x) => BigInt(x)) : Float32Array.from(v.dataSync() as Float32Array);
    out.set(k, { dtype: v.dtype === 'int32' ? 'I64' : 'F32', shape: [...v.shape], data });
  }
  return out;
}

/** Runs training as `python -m open_clip_train.main` would with the same parameters. */
export async function runTraining(cfg: TrainConfig, options: TrainRunOptions = {}): Promise<TrainRunResult> {
  const sink = options.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const transport = options.transport ?? null;
  const rank = transport?.rank ?? options.rank ?? 0;
  const worldSize = transport?.worldSize ?? options.worldSize ?? 1;
  if (worldSize > 1 && !transport) throw new Error(`world size ${worldSize} needs a collective transport (start ranks with openclip launch, torchrun, srun or mpirun)`);
  const master = rank === 0;
  // open_clip_train.main without --train-data only evaluates (eval-only.ts)
  const evalOnly = !cfg.trainData && cfg.datasetType !== 'synthetic';
  if (evalOnly && !cfg.valData && !cfg.imagenetVal && !cfg.imagenetV2) {
    throw new Error('--train-data is required to train (or --dataset-type synthetic with --train-num-samples); to only evaluate, give --val-data, --imagenet-val or --imagenet-v2');
  }

  // run folder, as OpenCLIP: logs/<name>/{out.log, params.txt, checkpoints/, tensorboard/}
  const logging = cfg.logs !== null && cfg.logs.toLowerCase() !== 'none';
  const logDir = logging ? resolve(cfg.logs!, cfg.name) : null;
  const ckptDir = logDir ? join(logDir, 'checkpoints') : null;
  if (master && logDir && existsSync(join(logDir, 'out.log')) && cfg.resume !== 'latest') {
    throw new Error(`Experiment already exists at ${logDir}: use --name to give a new experiment name, or --resume latest to continue it`);
  }
  const quiet: LogSink = () => {};
  const log = new RunLogger(master ? logDir : null, master || options.logLocal || cfg.logLocal ? (l) => sink(worldSize > 1 ? `[rank ${rank}] ${l}` : l) : quiet, cfg.debug);
  if (logDir && master) {
    mkdirSync(ckptDir!, { recursive: true });
    for (const f of removeStaleTemporaries(ckptDir!)) log.info(`removed ${join(ckptDir!, f)}, left by an interrupted save of a process that no longer runs`);
  }
  const engine = await initEngine({ backend: options.backend });
  const localRank = Number(process.env.LOCAL_RANK ?? process.env.SLURM_LOCALID ?? process.env.OMPI_COMM_WORLD_LOCAL_RANK ?? rank);
  const device = resolveDevice(cfg.device, engine, localRank);
  if (device.warning) log.warn(device.warning);
  if (logDir && master) writeParams(logDir, cfg, derivedParams(cfg, { logDir, rank, worldSize, localRank, device: device.device }));
  log.info(
    worldSize > 1
      ? `Running in distributed mode with multiple processes. Device: ${device.device}. Backend: ${engine.backend}. Process (global: ${rank}, local ${localRank}), total ${worldSize}.`
      : `Running with a single process. Device ${device.device}. Backend: ${engine.backend} (TensorFlow.js ${engine.tfjsVersion}, ${engine.threads} threads).`,
  );

  // model, transforms, tokenizer
  const dl = downloadProgress({ enabled: master && (options.progress ?? Boolean(process.stderr.isTTY)) });
  const built = await createModelAndTransforms(cfg.model, {
    onDownloadProgress: dl.onDownloadProgress,
    pretrained: cfg.pretrained || null,
    forceQuickGelu: cfg.forceQuickGelu,
    forcePatchDropout: cfg.forcePatchDropout ?? undefined,
    forceCustomText: cfg.forceCustomText,
    forceImageSize: cfg.forceImageSize ? (cfg.forceImageSize.length === 1 ? cfg.forceImageSize[0] : [cfg.forceImageSize[0], cfg.forceImageSize[1]]) : undefined,
    forceContextLength: cfg.forceContextLength ?? undefined,
    imageMean: cfg.imageMean ? (cfg.imageMean.length === 1 ? [cfg.imageMean[0], cfg.imageMean[0], cfg.imageMean[0]] : (cfg.imageMean as [number, number, number])) : undefined,
    imageStd: cfg.imageStd ? (cfg.imageStd.length === 1 ? [cfg.imageStd[0], cfg.imageStd[0], cfg.imageStd[0]] : (cfg.imageStd as [number, number, number])) : undefined,
    imageInterpolation: (cfg.imageInterpolation ?? undefined) as 'bicubic' | 'bilinear' | 'random' | undefined,
    imageResizeMode: (cfg.imageResizeMode ?? undefined) as 'shortest' | 'longest' | 'squash' | undefined,
    augCfg: cfg.augCfg,
    cacheDir: cfg.cacheDir ?? undefined,
    seed: cfg.seed,
    // OpenCLIP's main.py: --siglip starts from logit_scale = log(10) and logit_bias = -10
    ...(cfg.siglip ? { initLogitScale: Math.log(10), initLogitBias: -10 } : {}),
  }).finally(dl.stop);
  const model = built.model;
  const teacherBuilt = cfg.distillModel
    ? await createModelAndTransforms(cfg.distillModel, { pretrained: cfg.distillPretrained, cacheDir: cfg.cacheDir ?? undefined, seed: cfg.seed, onDownloadProgress: dl.onDownloadProgress }).finally(dl.stop)
    : null;
  teacherBuilt?.model.eval();
  const closeables: (() => void | Promise<void>)[] = [() => model.dispose(), () => teacherBuilt?.model.dispose()];
  try {
    if (cfg.lockImage) (model as unknown as { lockImageTower(g: number, bn: boolean): void }).lockImageTower(cfg.lockImageUnlockedGroups, cfg.lockImageFreezeBnStats);
    if (cfg.lockText) (model as unknown as { lockTextTower(l: number, ln: boolean): void }).lockTextTower(cfg.lockTextUnlockedLayers, cfg.lockTextFreezeLayerNorm);
    if (cfg.gradCheckpointing) {
      const towers = model.setGradCheckpointing(true);
      log.info(`--grad-checkpointing: the transformer blocks of ${towers.length ? towers.join(', ') : 'no tower'} recompute their activations in the backward pass${towers.includes('visual') ? '' : ' (a ModifiedResNet image tower has no blocks to checkpoint, as in OpenCLIP)'}`);
    }
    const contextLength = cfg.forceContextLength ?? model.config.text_cfg.context_length;
    const tokenizer = await getTokenizerAsync(cfg.model, { contextLength, cacheDir: cfg.cacheDir ?? undefined }); // an HF tokenizer (CLIPA, worldwide) on first use
    log.info(`Model ${cfg.model}${built.checkpoint ? ` (weights: ${built.checkpoint})` : ' (random init)'}: ${model.numParams().toLocaleString('en-US')} parameters`);

    // data
    const imageSize = Array.isArray(built.preprocessCfg.image_size) ? built.preprocessCfg.image_size[0] : built.preprocessCfg.image_size;
    const common = {
      datasetType: cfg.datasetType as 'auto' | 'webdataset' | 'csv' | 'synthetic',
      batchSize: cfg.batchSize,
      workers: capWorkers(cfg.workers, (m) => log.info(`data: ${m}`)), // said once, not per loader
      maxSkipRatio: cfg.maxSkipRatio,
      rank,
      worldSize,
      seed: cfg.seed,
      csvSeparator: cfg.csvSeparator,
      csvImgKey: cfg.csvImgKey,
      csvCaptionKey: cfg.csvCaptionKey,
      syntheticImageSize: Math.max(imageSize, 32),
      tokenizer: { kind: 'tokenizer' as const, contextLength },
      log: (m: string) => log.info(`data: ${m}`),
    };
    let val: DataLoader | null = null;
    if (master && (cfg.valData || (cfg.datasetType === 'synthetic' && cfg.valNumSamples))) {
      val = await createDataLoader({ ...common, seed: cfg.seed + 1, data: cfg.valData, isTrain: false, numSamples: cfg.valNumSamples, transform: { kind: 'preprocess', config: { ...built.preprocessCfg }, isTrain: false } });
      closeables.push(() => val!.close());
    }
    // zero-shot: --imagenet-val folder, or for synthetic training data a held-out synthetic set
    const zeroShot: { loader: DataLoader; classnames: string[]; templates: Template[]; prefix: string }[] = [];
    if (master && (cfg.imagenetVal || cfg.imagenetV2)) {
      for (const [dir, prefix] of [[cfg.imagenetVal, 'imagenet'], [cfg.imagenetV2, 'imagenetv2']] as const) {
        if (!dir) continue;
        const loader = await createDataLoader({ ...common, data: dir, datasetType: 'imagefolder', imageFolderLabels: prefix === 'imagenetv2' ? 'numeric' : 'sorted', isTrain: false, tokenizer: null, transform: { kind: 'preprocess', config: { ...built.preprocessCfg }, isTrain: false } });
        closeables.push(() => loader.close());
        const z = zeroShotClasses(loader.classes ?? []);
        log.info(`zero-shot evaluation on ${dir}: ${loader.numSamples} images, ${z.classnames.length} classes named as ${z.kind}`);
        zeroShot.push({ loader, classnames: z.classnames, templates: z.templates, prefix });
      }
    } else if (master && cfg.datasetType === 'synthetic') {
      const n = Math.max(SYNTHETIC_CLASSNAMES.length * 4, cfg.valNumSamples ?? 0);
      const loader = await createDataLoader({ ...common, seed: cfg.seed + 1000, data: null, isTrain: false, numSamples: n, transform: { kind: 'preprocess', config: { ...built.preprocessCfg }, isTrain: false } });
      closeables.push(() => loader.close());
      zeroShot.push({ loader, ...syntheticZeroShot(), prefix: 'synthetic' });
      log.info(
        `zero-shot evaluation on ${n} held-out synthetic images of ${SYNTHETIC_CLASSNAMES.length} classes (chance ${(100 / SYNTHETIC_CLASSNAMES.length).toFixed(1)}%); ` +
          `the same images as: openclip make-dataset --type imagefolder --num-samples ${n} --image-size ${common.syntheticImageSize} --seed ${cfg.seed + 1000} --out DIR`,
      );
    }

    if (evalOnly) {
      const r = await evaluateOnly({ cfg, model, tokenizer, val, zeroShot, log, logDir, ckptDir, progress: options.progress ?? Boolean(process.stderr.isTTY) });
      return { name: cfg.name, logDir, checkpoints: [], epochs: [], metrics: r.metrics, steps: 0, losses: [] };
    }
    const train = await createDataLoader({
      ...common,
      data: cfg.trainData,
      isTrain: true,
      numSamples: cfg.trainNumSamples,
      datasetResampled: cfg.datasetResampled,
      upsamplingFactors: cfg.trainDataUpsamplingFactors,
      transform: { kind: 'preprocess', config: { ...built.preprocessCfg }, isTrain: true, aug: cfg.augCfg },
    });
    closeables.push(() => train.close());

    // loss, optimizer, schedule
    const collective = transport && worldSize > 1 ? collectiveFromTransport(transport) : undefined;
    const loss = createLoss({ model: cfg.model, rank, worldSize, collective, localLoss: cfg.localLoss, gatherWithGrad: cfg.gatherWithGrad, siglip: cfg.siglip, lossDistImpl: cfg.lossDistImpl as never, cocaCaptionLossWeight: cfg.cocaCaptionLossWeight, cocaContrastiveLossWeight: cfg.cocaContrastiveLossWeight, distillModel: cfg.distillModel, distillPretrained: cfg.distillPretrained });
    closeables.push(() => loss.dispose());
    const trainable = [...model.params.entries()].filter(([k, v]) => v.trainable && !model.frozen.has(k)).map(([k]) => k);
    const groups = openclipParamGroups(new Map(trainable.map((k) => [k, { shape: model.params.get(k)!.shape }])), cfg.wd);
    const optimizer = new AdamW(model.params, { lr: cfg.lr, betas: [cfg.beta1, cfg.beta2], eps: cfg.eps, groups });
    const teacher = teacherBuilt?.model ?? null;
    const step =
      worldSize > 1
        ? new DistributedTrainStep(model, loss, optimizer, transport!, { trainable, gradClipNorm: cfg.gradClipNorm, teacher })
        : new TrainStep(model, loss, optimizer, { trainable, gradClipNorm: cfg.gradClipNorm, teacher });
    const stepsPerEpoch = Math.floor(train.numBatches / cfg.accumFreq);
    if (stepsPerEpoch < 1) throw new Error(`--accum-freq ${cfg.accumFreq} is more than the ${train.numBatches} batches of an epoch`);
    const totalSteps = stepsPerEpoch * cfg.epochs;
    const schedule = cfg.skipScheduler
      ? () => cfg.lr
      : createLrScheduler({ lrScheduler: cfg.lrScheduler as 'cosine', lr: cfg.lr, warmup: cfg.warmup, totalSteps, cooldownSteps: cfg.epochsCooldown !== null ? stepsPerEpoch * cfg.epochsCooldown : null, lrCooldownPower: cfg.lrCooldownPower, lrCooldownEnd: cfg.lrCooldownEnd });

    // resume
    let startEpoch = 0;
    let globalStep = 0;
    let samplesSeen = 0;
    let dataResume: DataPosition | null = null;
    const history: { losses: [number, number][]; evals: [number, Metrics][] } = { losses: [], evals: [] };
    if (cfg.resume) {
      // --resume latest: the newest readable safetensors pair (refusing when every pair is broken); OpenCLIP's epoch_K.pt only when there is no pair at all
      const torchLatest = cfg.resume === 'latest' && ckptDir && surveyCheckpoints(ckptDir).length === 0 ? findLatestTorchCheckpoint(ckptDir) : null;
      const choice =
        cfg.resume !== 'latest'
          ? { path: cfg.resume, notes: [] }
          : !ckptDir
            ? { path: null, notes: ['--resume latest: logging is disabled, so there is no checkpoint folder; starting from scratch'] }
            : torchLatest
              ? { path: torchLatest, notes: [] }
              : chooseResumeLatest(ckptDir, { startOver: cfg.resumeStartOver, moveBroken: master });
      for (const n of choice.notes) log.info(n);
      const path = choice.path;
      if (path && isTorchCheckpointPath(path)) {
        // OpenCLIP's epoch_K.pt: epoch boundaries only; the schedule position follows from the epoch, as in OpenCLIP
        startEpoch = resumeFromTorchCheckpoint(path, model, optimizer, (m) => log.warn(m));
        globalStep = startEpoch * stepsPerEpoch;
        samplesSeen = startEpoch * stepsPerEpoch * cfg.accumFreq * cfg.batchSize * worldSize;
        log.info(`=> resuming checkpoint '${path}' (epoch ${startEpoch})`);
      } else if (path) {
        const ck = loadCheckpoint(path);
        model.loadStateDict(ck.model as Map<string, RawTensor>, { strict: true, source: ck.modelPath } as never);
        optimizer.loadStateTensors(ck.state, ck.statePath);
        startEpoch = ck.meta.epoch;
        globalStep = ck.meta.step;
        samplesSeen = ck.meta.samplesSeen;
        const saved = savedRankState(ck.meta.data, rank, worldSize, ck.statePath);
        dataResume = saved && saved.position.batch > 0 ? saved.position : null;
        restoreRng(model, saved?.rng, ck.statePath);
        const h = ck.meta.extra?.history as typeof history | undefined;
        if (h) {
          history.losses = h.losses;
          history.evals = h.evals;
        }
        log.info(`=> resuming checkpoint '${path}' (epoch ${startEpoch}, step ${globalStep}${dataResume ? `, batch ${dataResume.batch} of the epoch` : ''})`);
      }
    }

    // DDP start: every rank holds rank 0's parameters (after any resume, all ranks loaded the same file)
    if (worldSize > 1) await broadcastModel(model, transport!);
    const tb = master && logDir && cfg.reportTo.split(',').map((s) => s.trim()).includes('tensorboard') ? new TensorBoardWriter(join(logDir, 'tensorboard')) : null;
    if (tb) closeables.push(() => tb.close());
    const checkpoints: string[] = [];
    const epochs: EpochRecord[] = [];
    let lastMetrics: Metrics = {};
    const showBar = options.progress ?? Boolean(process.stderr.isTTY);
    const rng = new Rng(cfg.seed + rank);
    void rng;

    const evaluateAll = async (completed: number): Promise<Metrics> => {
      const m: Metrics = {};
      const last = completed === cfg.epochs;
      if (val && (completed % cfg.valFrequency === 0 || last)) Object.assign(m, await evaluateRetrieval(model, val, completed, { progress: showBar }));
      if (completed % cfg.zeroshotFrequency === 0 || last) {
        for (const z of zeroShot) Object.assign(m, await evaluateZeroShot(model, tokenizer, z.loader, z.classnames, z.templates, z.prefix, { progress: showBar }));
      }
      return m;
    };

    // the data workers start on the first epoch now, so its first batches are ready after the evaluation below
    if (startEpoch < cfg.epochs) await train.prepare(startEpoch, { resume: dataResume && dataResume.epoch === startEpoch ? dataResume : null });
    if (startEpoch === 0 && globalStep === 0 && zeroShot.length && master) {
      const m: Metrics = {};
      for (const z of zeroShot) Object.assign(m, await evaluateZeroShot(model, tokenizer, z.loader, z.classnames, z.templates, z.prefix, { progress: showBar }));
      log.info(`Eval Epoch: 0 ${Object.entries(m).map(([k, v]) => `${k}: ${v.toFixed(4)}`).join('\t')}`);
      history.evals.push([0, m]);
    }

    let stopped = false;
    for (let epoch = startEpoch; epoch < cfg.epochs && !stopped; epoch++) {
      log.info(`Start epoch ${epoch}`);
      model.train();
      const bar = master ? new ProgressBar(`epoch ${epoch + 1}/${cfg.epochs}`, stepsPerEpoch, 'steps', { enabled: showBar, rateUnit: 'samples' }) : null;
      const samplesPerEpoch = train.numSamples;
      let accum: MicroBatch[] = [];
      let stepInEpoch = dataResume ? Math.floor(dataResume.batch / cfg.accumFreq) : 0;
      let lossSum = 0;
      let lossCount = 0;
      let dataTime = 0;
      let batchTime = 0;
      let tEnd = performance.now();
      let lastStepEnd = tEnd; // OpenCLIP's batch time: from the end of one step to the end of the next (data included)
      let epochSamples = 0;
      const epochStart = performance.now();
      const resumeHere = dataResume && dataResume.epoch === epoch ? dataResume : null;
      dataResume = null;
      for await (const b of train.epoch(epoch, { resume: resumeHere })) {
        dataTime += performance.now() - tEnd;
        accum.push(toTensors(b));
        if (accum.length < cfg.accumFreq) {
          tEnd = performance.now();
          continue;
        }
        const lr = schedule(globalStep);
        let r;
        try {
          r = await step.run(accum, lr);
        } finally {
          for (const mb of accum) tf.dispose([mb.images, mb.tokens]);
        }
        const bs = accum.reduce((a, mb) => a + mb.images.shape[0], 0) * worldSize;
        accum = [];
        globalStep++;
        stepInEpoch++;
        samplesSeen += bs;
        epochSamples += bs;
        lossSum += r.total;
        lossCount++;
        history.losses.push([globalStep, r.total]);
        const now = performance.now();
        // as OpenCLIP's batch_time_m: data wait + step; samples/s from the last step, shared by log and bar
        batchTime += now - lastStepEnd;
        const sps = bs / ((now - lastStepEnd) / 1000);
        tEnd = now;
        lastStepEnd = now;
        const lossText = Object.entries(r.losses).map(([k, v]) => `${k[0].toUpperCase()}${k.slice(1)}: ${v.toFixed(5)}`).join(' ');
        bar?.update(stepInEpoch, { rate: sps, extra: `loss ${r.total.toFixed(4)}` });
        const logNow = stepInEpoch % cfg.logEveryNSteps === 0 || stepInEpoch === stepsPerEpoch;
        if (logNow) {
          const done = stepInEpoch * cfg.accumFreq * cfg.batchSize * worldSize;
          const line =
            `Train Epoch: ${epoch} [${String(done).padStart(String(samplesPerEpoch).length)}/${samplesPerEpoch} (${((100 * stepInEpoch) / stepsPerEpoch).toFixed(0)}%)] ` +
            `Data (t): ${fmtSeconds(dataTime / 1000 / lossCount)} Batch (t): ${fmtSeconds(batchTime / 1000 / lossCount)}, ${formatRate(sps)}/s, ${formatRate(sps / worldSize)}/s/rank ` +
            `LR: ${lr.toFixed(6)} Logit Scale: ${r.logitScale.toFixed(3)} ${lossText} Loss: ${r.total.toFixed(5)} (${(lossSum / lossCount).toFixed(5)})` +
            (r.gradNorm !== null ? ` Grad norm: ${r.gradNorm.toFixed(4)}` : '');
          if (showBar) log.fileOnly(line);
          else log.info(line);
          tb?.addScalars({ 'train/loss': r.total, ...Object.fromEntries(Object.entries(r.losses).map(([k, v]) => [`train/${k}`, v])), 'train/scale': r.logitScale, 'train/lr': lr, 'train/samples_per_second': sps, 'train/data_time': dataTime / 1000 / lossCount, 'train/batch_time': batchTime / 1000 / lossCount }, globalStep);
        }
        if (cfg.saveEveryNSteps && globalStep % cfg.saveEveryNSteps === 0 && stepInEpoch < stepsPerEpoch) {
          // a step-level save: epoch_latest with this epoch's data position, so a resume continues here
          const ranks = await gatherRankStates(transport, { position: train.position(), rng: captureRng(model) });
          if (master && ckptDir) {
            const { tensors: optState, hyper } = optimizer.stateTensors();
            const meta = { epoch, step: globalStep, samplesSeen, name: cfg.name, modelConfig: modelConfigToJson(model.config), trainConfig: cfg, rng: ranks[0].rng, data: { epoch, ranks }, extra: { optimizer: hyper, history } };
            saveCheckpoint(ckptDir, 'epoch_latest', snapshotModel(model), optState, meta);
            log.debug(`Saved step checkpoint ${join(ckptDir, 'epoch_latest.safetensors')} (step ${globalStep}, batch ${train.position().batch} of epoch ${epoch})`);
          }
        }
        if (options.maxSteps !== undefined && globalStep >= options.maxSteps) {
          stopped = true;
          break;
        }
      }
      for (const mb of accum) tf.dispose([mb.images, mb.tokens]);
      bar?.stop();
      if (stopped) break;
      // the next epoch's first batches are prepared while this one is evaluated and saved
      if (epoch + 1 < cfg.epochs) await train.prepare(epoch + 1);
      const completed = epoch + 1;
      const metrics = master ? await evaluateAll(completed) : {};
      if (worldSize > 1) await transport!.barrier(); // the others wait while rank 0 evaluates
      lastMetrics = metrics;
      const epochSeconds = (performance.now() - epochStart) / 1000;
      const record: EpochRecord = { epoch: completed, steps: stepInEpoch, meanLoss: lossCount ? lossSum / lossCount : NaN, samplesPerSecond: epochSamples / epochSeconds, metrics };
      epochs.push(record);
      if (Object.keys(metrics).length) {
        history.evals.push([completed, metrics]);
        log.info(`Eval Epoch: ${completed} ${Object.entries(metrics).map(([k, v]) => `${k}: ${Number.isInteger(v) ? v : v.toFixed(4)}`).join('\t')}`);
        if (ckptDir) appendFileSync(join(ckptDir, 'results.jsonl'), JSON.stringify(metrics) + '\n');
        tb?.addScalars(Object.fromEntries(Object.entries(metrics).map(([k, v]) => [`val/${k}`, v])), completed);
      }
      // checkpoints (rank 0 only), as OpenCLIP: every --save-frequency epochs and at the end
      const ranks = await gatherRankStates(transport, { position: { ...train.position(), epoch: completed, batch: 0, cursors: train.position().cursors.map(() => 0) }, rng: captureRng(model) });
      if (master && ckptDir) {
        const { tensors: optState, hyper } = optimizer.stateTensors();
        const meta = {
          epoch: completed,
          step: globalStep,
          samplesSeen,
          name: cfg.name,
          modelConfig: modelConfigToJson(model.config),
          trainConfig: cfg,
          rng: ranks[0].rng,
          data: { epoch: completed, ranks },
          extra: { optimizer: hyper, history },
        };
        const modelTensors = snapshotModel(model);
        if (completed === cfg.epochs || (cfg.saveFrequency > 0 && completed % cfg.saveFrequency === 0)) {
          if (cfg.saveFormat !== 'pt') {
            saveCheckpoint(ckptDir, `epoch_${completed}`, modelTensors, optState, meta);
            checkpoints.push(join(ckptDir, `epoch_${completed}.safetensors`));
            log.info(`Saved checkpoint ${join(ckptDir, `epoch_${completed}.safetensors`)}`);
          }
          if (cfg.saveFormat !== 'safetensors') {
            checkpoints.push(saveTorchEpoch(ckptDir, `epoch_${completed}`, { epoch: completed, name: cfg.name, model: modelTensors, optimizer }));
            log.info(`Saved checkpoint ${join(ckptDir, `epoch_${completed}.pt`)}`);
          }
          if (cfg.deletePreviousCheckpoint && completed > 1) {
            deleteCheckpoint(ckptDir, `epoch_${completed - 1}`);
            deleteTorchEpoch(ckptDir, `epoch_${completed - 1}`);
          }
        }
        // step-level saves (--save-every-n-steps) are always safetensors pairs (a .pt carries no data position), so their epoch_latest is renewed at every epoch end too
        if ((cfg.saveMostRecent && cfg.saveFormat !== 'pt') || cfg.saveEveryNSteps) saveCheckpoint(ckptDir, 'epoch_latest', modelTensors, optState, meta);
        if (cfg.saveMostRecent && cfg.saveFormat !== 'safetensors') saveTorchEpoch(ckptDir, 'epoch_latest', { epoch: completed, name: cfg.name, model: modelTensors, optimizer });
      }
      if (master && logDir) {
        const evalKeys = [...new Set(history.evals.flatMap(([, m]) => Object.keys(m)))].filter((k) => /top1|top5|R@1$|R@5$|R@10$/.test(k));
        const panels: Panel[] = [
          { title: 'training loss', xLabel: 'step', series: [{ name: 'loss', points: history.losses }] },
          { title: 'evaluation', xLabel: 'epoch', series: evalKeys.map((k) => ({ name: k, points: history.evals.filter(([, m]) => k in m).map(([e, m]) => [e, m[k]] as [number, number]) })) },
        ];
        await writePlot(join(logDir, 'curves'), cfg.name, panels);
      }
      if (worldSize > 1) await transport!.barrier(); // checkpoint written before anyone moves on
    }
    return { name: cfg.name, logDir, checkpoints, epochs, metrics: lastMetrics, steps: globalStep, losses: history.losses };
  } finally {
    for (const c of closeables.reverse()) await c();
  }
}
