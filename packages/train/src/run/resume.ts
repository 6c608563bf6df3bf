/**
 * The resume room: where a run starts. --resume PATH (our safetensors pair or OpenCLIP's epoch_K.pt)
 * or --resume latest (the newest readable pair in the run's checkpoints/) loads the model, optimizer,
 * epoch, step, data position, RNG and the loss/eval history the plots draw.
 */
import type { OpenClipModel } from '@openclip/models';
import type { DataPosition } from '@openclip/data';
import type { TrainConfig } from '../config/train-config.js';
import type { AdamW } from '../optim/adamw.js';
import { loadCheckpoint } from '../checkpoint/checkpoint.js';
import { chooseResumeLatest, surveyCheckpoints } from '../checkpoint/resume-latest.js';
import { restoreRng, savedRankState } from '../checkpoint/run-state.js';
import { isTorchCheckpointPath, findLatestTorchCheckpoint } from '../checkpoint/torch-trainer.js';
import { resumeFromTorchCheckpoint } from '../checkpoint/torch-resume.js';
import type { Metrics } from '../eval/evaluate.js';
import type { RunLogger } from '../run-logger.js';

/** Per-step losses and per-epoch metrics of the whole run (kept in checkpoints for the plots). */
export interface RunHistory {
  losses: [number, number][];
  evals: [number, Metrics][];
}

/** Where the run is: advanced by every optimizer step, saved in every checkpoint. */
export interface RunPosition {
  /** The epoch the loop starts at (0, or the resumed checkpoint's epoch). */
  startEpoch: number;
  globalStep: number;
  samplesSeen: number;
  /** A mid-epoch data position to continue from (step-level saves), used once. */
  dataResume: DataPosition | null;
  history: RunHistory;
}

function isHistory(x: unknown): x is RunHistory {
  const h = x as Partial<RunHistory> | null;
  return typeof h === 'object' && h !== null && Array.isArray(h.losses) && Array.isArray(h.evals);
}

/** The run's start: from scratch, or from the checkpoint --resume names. */
export function resumeRun(
  cfg: TrainConfig,
  o: { model: OpenClipModel; optimizer: AdamW; stepsPerEpoch: number; rank: number; worldSize: number; master: boolean; ckptDir: string | null; log: RunLogger },
): RunPosition {
  const { model, optimizer, stepsPerEpoch, rank, worldSize, ckptDir, log } = o;
  const at: RunPosition = { startEpoch: 0, globalStep: 0, samplesSeen: 0, dataResume: null, history: { losses: [], evals: [] } };
  if (!cfg.resume) return at;
  // --resume latest: the newest readable safetensors pair (refusing when every pair is broken); OpenCLIP's epoch_K.pt only when there is no pair at all
  const torchLatest = cfg.resume === 'latest' && ckptDir && surveyCheckpoints(ckptDir).length === 0 ? findLatestTorchCheckpoint(ckptDir) : null;
  const choice =
    cfg.resume !== 'latest'
      ? { path: cfg.resume, notes: [] }
      : !ckptDir
        ? { path: null, notes: ['--resume latest: logging is disabled, so there is no checkpoint folder; starting from scratch'] }
        : torchLatest
          ? { path: torchLatest, notes: [] }
          : chooseResumeLatest(ckptDir, { startOver: cfg.resumeStartOver, moveBroken: o.master });
  for (const n of choice.notes) log.info(n);
  const path = choice.path;
  if (path && isTorchCheckpointPath(path)) {
    // OpenCLIP's epoch_K.pt: epoch boundaries only; the schedule position follows from the epoch, as in OpenCLIP
    at.startEpoch = resumeFromTorchCheckpoint(path, model, optimizer, (m) => log.warn(m));
    at.globalStep = at.startEpoch * stepsPerEpoch;
    at.samplesSeen = at.startEpoch * stepsPerEpoch * cfg.accumFreq * cfg.batchSize * worldSize;
    log.info(`=> resuming checkpoint '${path}' (epoch ${at.startEpoch})`);
  } else if (path) {
    const ck = loadCheckpoint(path);
    model.loadStateDict(ck.model, { strict: true, source: ck.modelPath });
    optimizer.loadStateTensors(ck.state, ck.statePath);
    at.startEpoch = ck.meta.epoch;
    at.globalStep = ck.meta.step;
    at.samplesSeen = ck.meta.samplesSeen;
    const saved = savedRankState(ck.meta.data, rank, worldSize, ck.statePath);
    at.dataResume = saved && saved.position.batch > 0 ? saved.position : null;
    restoreRng(model, saved?.rng, ck.statePath);
    const h = ck.meta.extra?.history;
    if (h !== undefined && h !== null && !isHistory(h)) throw new Error(`${ck.statePath}: metadata extra.history is not { losses: [...], evals: [...] }`);
    if (isHistory(h)) at.history = { losses: h.losses, evals: h.evals };
    const batchNote = at.dataResume ? `, batch ${at.dataResume.batch} of the epoch` : '';
    log.info(`=> resuming checkpoint '${path}' (epoch ${at.startEpoch}, step ${at.globalStep}${batchNote})`);
  }
  return at;
}
