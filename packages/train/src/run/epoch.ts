/**
 * The epoch room: one epoch's optimizer steps, as OpenCLIP's train_one_epoch. Batches are grouped by
 * --accum-freq, each step is timed (data wait and step, as OpenCLIP's data_time / batch_time), logged
 * every --log-every-n-steps to out.log, the progress bar and TensorBoard, and saved every
 * --save-every-n-steps.
 */
import { tf } from '@openclip/engine';
import type { Batch } from '@openclip/data';
import { ProgressBar, formatRate } from '../progress.js';
import type { MicroBatch, StepResult } from '../train-step.js';
import { saveStepCheckpoint } from './checkpoints.js';
import type { RunContext } from './context.js';

export interface EpochStats {
  /** Optimizer steps of this epoch done so far (a resumed epoch counts its earlier steps). */
  steps: number;
  lossSum: number;
  lossCount: number;
  /** Samples trained on in this epoch by all ranks. */
  samples: number;
  /** performance.now() at the start of the epoch. */
  startedAt: number;
  /** maxSteps was reached: the run stops without finishing the epoch. */
  stopped: boolean;
}

function toTensors(b: Batch): MicroBatch {
  if (!b.tokens || !b.tokenShape) throw new Error('training batches need captions');
  const [n, c, h, w] = b.imageShape;
  const [rows, len] = b.tokenShape;
  return { images: tf.tensor4d(b.images, [n, c, h, w]), tokens: tf.tensor2d(b.tokens, [rows, len], 'int32') };
}

function seconds(s: number): string {
  return s.toFixed(3);
}

/** OpenCLIP's per-step log line. */
function stepLine(run: RunContext, epoch: number, stats: EpochStats, t: { data: number; batch: number; sps: number; lr: number }, r: StepResult): string {
  const { cfg, stepsPerEpoch, train } = run;
  const worldSize = run.setup.worldSize;
  const samplesPerEpoch = train.numSamples;
  const done = stats.steps * cfg.accumFreq * cfg.batchSize * worldSize;
  const lossText = Object.entries(r.losses).map(([k, v]) => `${k[0].toUpperCase()}${k.slice(1)}: ${v.toFixed(5)}`).join(' ');
  return (
    `Train Epoch: ${epoch} [${String(done).padStart(String(samplesPerEpoch).length)}/${samplesPerEpoch} (${((100 * stats.steps) / stepsPerEpoch).toFixed(0)}%)] ` +
    `Data (t): ${seconds(t.data / 1000 / stats.lossCount)} Batch (t): ${seconds(t.batch / 1000 / stats.lossCount)}, ${formatRate(t.sps)}/s, ${formatRate(t.sps / worldSize)}/s/rank ` +
    `LR: ${t.lr.toFixed(6)} Logit Scale: ${r.logitScale.toFixed(3)} ${lossText} Loss: ${r.total.toFixed(5)} (${(stats.lossSum / stats.lossCount).toFixed(5)})` +
    (r.gradNorm !== null ? ` Grad norm: ${r.gradNorm.toFixed(4)}` : '')
  );
}

/** Trains one epoch (from a saved mid-epoch position when the run resumed there). */
export async function trainEpoch(run: RunContext, epoch: number): Promise<EpochStats> {
  const { cfg, setup, train, at, stepsPerEpoch, tb } = run;
  const { master, showBar, log, worldSize } = setup;
  const bar = master ? new ProgressBar(`epoch ${epoch + 1}/${cfg.epochs}`, stepsPerEpoch, 'steps', { enabled: showBar, rateUnit: 'samples' }) : null;
  const resumeHere = at.dataResume && at.dataResume.epoch === epoch ? at.dataResume : null;
  const stats: EpochStats = { steps: at.dataResume ? Math.floor(at.dataResume.batch / cfg.accumFreq) : 0, lossSum: 0, lossCount: 0, samples: 0, startedAt: performance.now(), stopped: false };
  at.dataResume = null;
  let accum: MicroBatch[] = [];
  let dataTime = 0;
  let batchTime = 0;
  let tEnd = performance.now();
  let lastStepEnd = tEnd; // OpenCLIP's batch time: from the end of one step to the end of the next (data included)
  try {
    for await (const b of train.epoch(epoch, { resume: resumeHere })) {
      dataTime += performance.now() - tEnd;
      accum.push(toTensors(b));
      if (accum.length < cfg.accumFreq) {
        tEnd = performance.now();
        continue;
      }
      const lr = run.schedule(at.globalStep);
      const step = accum;
      accum = [];
      let r: StepResult;
      try {
        r = await run.step.run(step, lr);
      } finally {
        for (const mb of step) tf.dispose([mb.images, mb.tokens]);
      }
      const bs = step.reduce((a, mb) => a + mb.images.shape[0], 0) * worldSize;
      at.globalStep++;
      at.samplesSeen += bs;
      stats.steps++;
      stats.samples += bs;
      stats.lossSum += r.total;
      stats.lossCount++;
      at.history.losses.push([at.globalStep, r.total]);
      const now = performance.now();
      // as OpenCLIP's batch_time_m: data wait + step; samples/s from the last step, shared by log and bar
      batchTime += now - lastStepEnd;
      const sps = bs / ((now - lastStepEnd) / 1000);
      tEnd = now;
      lastStepEnd = now;
      bar?.update(stats.steps, { rate: sps, extra: `loss ${r.total.toFixed(4)}` });
      if (stats.steps % cfg.logEveryNSteps === 0 || stats.steps === stepsPerEpoch) {
        const line = stepLine(run, epoch, stats, { data: dataTime, batch: batchTime, sps, lr }, r);
        if (showBar) log.fileOnly(line);
        else log.info(line);
        tb?.addScalars({ 'train/loss': r.total, ...Object.fromEntries(Object.entries(r.losses).map(([k, v]) => [`train/${k}`, v])), 'train/scale': r.logitScale, 'train/lr': lr, 'train/samples_per_second': sps, 'train/data_time': dataTime / 1000 / stats.lossCount, 'train/batch_time': batchTime / 1000 / stats.lossCount }, at.globalStep);
      }
      if (cfg.saveEveryNSteps && at.globalStep % cfg.saveEveryNSteps === 0 && stats.steps < stepsPerEpoch) await saveStepCheckpoint(run, epoch);
      if (run.maxSteps !== undefined && at.globalStep >= run.maxSteps) {
        stats.stopped = true;
        break;
      }
    }
  } finally {
    for (const mb of accum) tf.dispose([mb.images, mb.tokens]);
    bar?.stop();
  }
  return stats;
}
