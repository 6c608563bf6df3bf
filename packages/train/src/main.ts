/**
 * `openclip train` as a library call: OpenCLIP's `open_clip_train/main.py` for one process. The run
 * goes through its rooms in order (run/): setup (rank, run folder, logger, engine), the model, the
 * data, the optimizer, resume, then per epoch the steps (run/epoch.ts) and the end-of-epoch work
 * (evaluation, checkpoints, curves: run/end-of-epoch.ts). Rank and world size are carried through
 * every room so the distributed launcher drives the same loop.
 */
import { join } from 'node:path';
import type { TrainConfig } from './config/train-config.js';
import { broadcastModel } from './distributed/broadcast-model.js';
import { evaluateOnly } from './eval/eval-only.js';
import type { Metrics } from './eval/evaluate.js';
import { TensorBoardWriter } from './logging/tensorboard.js';
import { Closeables } from './run/closeables.js';
import { setUpRun } from './run/setup.js';
import { buildModels } from './run/build-model.js';
import { buildEvalData, buildTrainData, commonDataOptions } from './run/build-data.js';
import { buildOptimizer } from './run/build-optimizer.js';
import { resumeRun } from './run/resume.js';
import type { RunContext } from './run/context.js';
import { trainEpoch } from './run/epoch.js';
import { finishEpoch, zeroShotMetrics } from './run/end-of-epoch.js';
import type { EpochRecord, TrainRunOptions, TrainRunResult } from './run/options.js';

export type { EpochRecord, TrainRunOptions, TrainRunResult } from './run/options.js';

/** Runs training as `python -m open_clip_train.main` would with the same parameters. */
export async function runTraining(cfg: TrainConfig, options: TrainRunOptions = {}): Promise<TrainRunResult> {
  const setup = await setUpRun(cfg, options);
  const { rank, worldSize, master, transport, log, logDir, ckptDir } = setup;
  const closeables = new Closeables();
  try {
    const { model, teacher, preprocessCfg, tokenizer, contextLength } = await buildModels(cfg, { master, showBar: setup.showBar, log, closeables });
    const common = commonDataOptions(cfg, { rank, worldSize, preprocessCfg, contextLength, log });
    const evalData = await buildEvalData(cfg, common, { master, preprocessCfg, log, closeables });
    if (setup.evalOnly) {
      const r = await evaluateOnly({ cfg, model, tokenizer, val: evalData.val, zeroShot: evalData.zeroShot, log, logDir, ckptDir, progress: setup.showBar });
      return { name: cfg.name, logDir, checkpoints: [], epochs: [], metrics: r.metrics, steps: 0, losses: [] };
    }
    const train = await buildTrainData(cfg, common, { preprocessCfg, closeables });
    const { optimizer, step, stepsPerEpoch, schedule } = buildOptimizer(cfg, { model, teacher, rank, worldSize, transport, trainBatches: train.numBatches, closeables });
    const at = resumeRun(cfg, { model, optimizer, stepsPerEpoch, rank, worldSize, master, ckptDir, log });

    // DDP start: every rank holds rank 0's parameters (after any resume, all ranks loaded the same file)
    if (transport && worldSize > 1) await broadcastModel(model, transport);
    const tb = master && logDir && cfg.reportTo.split(',').map((s) => s.trim()).includes('tensorboard') ? new TensorBoardWriter(join(logDir, 'tensorboard')) : null;
    if (tb) closeables.add(() => tb.close());
    const run: RunContext = { cfg, setup, model, tokenizer, optimizer, step, schedule, stepsPerEpoch, train, evalData, tb, at, maxSteps: options.maxSteps };

    // the data workers start on the first epoch now, so its first batches are ready after the evaluation below
    if (at.startEpoch < cfg.epochs) await train.prepare(at.startEpoch, { resume: at.dataResume && at.dataResume.epoch === at.startEpoch ? at.dataResume : null });
    if (at.startEpoch === 0 && at.globalStep === 0 && evalData.zeroShot.length && master) {
      const m = await zeroShotMetrics(run);
      log.info(`Eval Epoch: 0 ${Object.entries(m).map(([k, v]) => `${k}: ${v.toFixed(4)}`).join('\t')}`);
      at.history.evals.push([0, m]);
    }

    const checkpoints: string[] = [];
    const epochs: EpochRecord[] = [];
    let lastMetrics: Metrics = {};
    for (let epoch = at.startEpoch; epoch < cfg.epochs; epoch++) {
      log.info(`Start epoch ${epoch}`);
      model.train();
      const stats = await trainEpoch(run, epoch);
      if (stats.stopped) break;
      // the next epoch's first batches are prepared while this one is evaluated and saved
      if (epoch + 1 < cfg.epochs) await train.prepare(epoch + 1);
      const done = await finishEpoch(run, epoch, stats);
      epochs.push(done.record);
      checkpoints.push(...done.checkpoints);
      lastMetrics = done.record.metrics;
    }
    return { name: cfg.name, logDir, checkpoints, epochs, metrics: lastMetrics, steps: at.globalStep, losses: at.history.losses };
  } finally {
    await closeables.closeAll();
  }
}
