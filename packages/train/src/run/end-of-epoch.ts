/**
 * The end-of-epoch room, as OpenCLIP's main loop after train_one_epoch: evaluation on rank 0
 * (--val-frequency, --zeroshot-frequency, always after the last epoch), the metrics in out.log,
 * results.jsonl and TensorBoard, the checkpoints, and the loss / metric curves (logs/<name>/curves).
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateRetrieval, evaluateZeroShot, type Metrics } from '../eval/evaluate.js';
import { writePlot, type Panel } from '../logging/plot.js';
import type { EpochRecord } from './options.js';
import { saveEpochCheckpoints } from './checkpoints.js';
import type { RunContext } from './context.js';
import type { EpochStats } from './epoch.js';

/** Zero-shot accuracy on every zero-shot set (rank 0). */
export async function zeroShotMetrics(run: RunContext): Promise<Metrics> {
  const m: Metrics = {};
  for (const z of run.evalData.zeroShot) Object.assign(m, await evaluateZeroShot(run.model, run.tokenizer, z.loader, z.classnames, z.templates, z.prefix, { progress: run.setup.showBar }));
  return m;
}

/** The evaluations due after `completed` epochs (rank 0). */
async function evaluateEpoch(run: RunContext, completed: number): Promise<Metrics> {
  const { cfg, evalData } = run;
  const m: Metrics = {};
  const last = completed === cfg.epochs;
  if (evalData.val && (completed % cfg.valFrequency === 0 || last)) Object.assign(m, await evaluateRetrieval(run.model, evalData.val, completed, { progress: run.setup.showBar }));
  if (completed % cfg.zeroshotFrequency === 0 || last) Object.assign(m, await zeroShotMetrics(run));
  return m;
}

/** The loss per step and the retrieval / zero-shot metrics per epoch, as an SVG under logs/<name>/curves. */
async function writeCurves(run: RunContext, logDir: string): Promise<void> {
  const { history } = run.at;
  const evalKeys = [...new Set(history.evals.flatMap(([, m]) => Object.keys(m)))].filter((k) => /top1|top5|R@1$|R@5$|R@10$/.test(k));
  const panels: Panel[] = [
    { title: 'training loss', xLabel: 'step', series: [{ name: 'loss', points: history.losses }] },
    { title: 'evaluation', xLabel: 'epoch', series: evalKeys.map((k) => ({ name: k, points: history.evals.filter(([, m]) => k in m).map(([e, m]): [number, number] => [e, m[k]]) })) },
  ];
  await writePlot(join(logDir, 'curves'), run.cfg.name, panels);
}

/** Evaluates, saves and plots after an epoch; every rank calls it (the others wait at the barriers). */
export async function finishEpoch(run: RunContext, epoch: number, stats: EpochStats): Promise<{ record: EpochRecord; checkpoints: string[] }> {
  const { setup, tb } = run;
  const { master, transport, log, ckptDir, logDir } = setup;
  const completed = epoch + 1;
  const metrics = master ? await evaluateEpoch(run, completed) : {};
  if (transport && setup.worldSize > 1) await transport.barrier(); // the others wait while rank 0 evaluates
  const epochSeconds = (performance.now() - stats.startedAt) / 1000;
  const record: EpochRecord = { epoch: completed, steps: stats.steps, meanLoss: stats.lossCount ? stats.lossSum / stats.lossCount : NaN, samplesPerSecond: stats.samples / epochSeconds, metrics };
  if (Object.keys(metrics).length) {
    run.at.history.evals.push([completed, metrics]);
    log.info(`Eval Epoch: ${completed} ${Object.entries(metrics).map(([k, v]) => `${k}: ${Number.isInteger(v) ? v : v.toFixed(4)}`).join('\t')}`);
    if (ckptDir) appendFileSync(join(ckptDir, 'results.jsonl'), JSON.stringify(metrics) + '\n');
    tb?.addScalars(Object.fromEntries(Object.entries(metrics).map(([k, v]) => [`val/${k}`, v])), completed);
  }
  // checkpoints (rank 0 writes), as OpenCLIP: every --save-frequency epochs and at the end
  const checkpoints = await saveEpochCheckpoints(run, completed);
  if (master && logDir) await writeCurves(run, logDir);
  if (transport && setup.worldSize > 1) await transport.barrier(); // checkpoint written before anyone moves on
  return { record, checkpoints };
}
