/**
 * The first room of a training run: who this process is (rank, world size), the run folder as
 * OpenCLIP lays it out (logs/<name>/{out.log, params.txt, checkpoints/}), the logger, the engine
 * and device, and params.txt. Nothing here builds a model or opens data.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initEngine } from '@openclip/engine';
import type { ArrayTransport } from '@openclip/losses';
import type { TrainConfig } from '../config/train-config.js';
import { resolveDevice } from '../config/device.js';
import { removeStaleTemporaries } from '../checkpoint/resume-latest.js';
import { RunLogger, writeParams, derivedParams, type LogSink } from '../run-logger.js';
import type { TrainRunOptions } from './options.js';

export interface RunSetup {
  rank: number;
  worldSize: number;
  /** Rank 0: logs, evaluates and saves. */
  master: boolean;
  /** The collective transport joining the ranks (null for one process). */
  transport: ArrayTransport | null;
  /** No --train-data (and not synthetic): the run only evaluates, as open_clip_train.main. */
  evalOnly: boolean;
  /** logs/<name>, or null with --logs none. */
  logDir: string | null;
  ckptDir: string | null;
  log: RunLogger;
  /** Progress bars (default: when stderr is a terminal). */
  showBar: boolean;
}

/** Checks who this process is and prepares the run folder, logger, engine and device. */
export async function setUpRun(cfg: TrainConfig, options: TrainRunOptions): Promise<RunSetup> {
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
  const logDir = cfg.logs !== null && cfg.logs.toLowerCase() !== 'none' ? resolve(cfg.logs, cfg.name) : null; // null: a library caller's { logs: null }
  const ckptDir = logDir ? join(logDir, 'checkpoints') : null;
  if (master && logDir && existsSync(join(logDir, 'out.log')) && cfg.resume !== 'latest') {
    throw new Error(`Experiment already exists at ${logDir}: use --name to give a new experiment name, or --resume latest to continue it`);
  }
  const quiet: LogSink = () => {};
  const log = new RunLogger(master ? logDir : null, master || options.logLocal || cfg.logLocal ? (l) => sink(worldSize > 1 ? `[rank ${rank}] ${l}` : l) : quiet, cfg.debug);
  if (ckptDir && master) {
    mkdirSync(ckptDir, { recursive: true });
    for (const f of removeStaleTemporaries(ckptDir)) log.info(`removed ${join(ckptDir, f)}, left by an interrupted save of a process that no longer runs`);
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
  return { rank, worldSize, master, transport, evalOnly, logDir, ckptDir, log, showBar: options.progress ?? Boolean(process.stderr.isTTY) };
}
