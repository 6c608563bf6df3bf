/**
 * Saving a run, as OpenCLIP's main.py: epoch_K every --save-frequency epochs and at the end
 * (safetensors pairs, OpenCLIP's epoch_K.pt, or both: --save-format), epoch_latest
 * (--save-most-recent), and step-level epoch_latest saves with the data position
 * (--save-every-n-steps). Rank 0 writes; every rank contributes its data position and RNG.
 */
import { join } from 'node:path';
import type { TensorToWrite } from '@openclip/engine';
import { modelConfigToJson, type OpenClipModel } from '@openclip/models';
import type { DataPosition } from '@openclip/data';
import { saveCheckpoint, deleteCheckpoint, type CheckpointMeta } from '../checkpoint/checkpoint.js';
import { captureRng, gatherRankStates, type RankState } from '../checkpoint/run-state.js';
import { saveTorchEpoch, deleteTorchEpoch } from '../checkpoint/torch-resume.js';
import type { RunContext } from './context.js';

/** A copy of the model's state dict to write (int32 buffers as I64, as PyTorch's num_batches_tracked). */
function snapshotModel(model: OpenClipModel): Map<string, TensorToWrite> {
  const out = new Map<string, TensorToWrite>();
  for (const [k, v] of model.stateDict()) {
    const data = v.dtype === 'int32' ? BigInt64Array.from(v.dataSync() as Int32Array, (x) => BigInt(x)) : Float32Array.from(v.dataSync() as Float32Array);
    out.set(k, { dtype: v.dtype === 'int32' ? 'I64' : 'F32', shape: [...v.shape], data });
  }
  return out;
}

/** Every rank's data position and RNG, gathered on rank 0 (all ranks must call it). */
async function rankStates(run: RunContext, position: DataPosition): Promise<RankState[]> {
  return gatherRankStates(run.setup.transport, { position, rng: captureRng(run.model) });
}

function meta(run: RunContext, epoch: number, ranks: RankState[], hyper: unknown): Omit<CheckpointMeta, 'format' | 'id' | 'createdAt'> {
  const { cfg, model, at } = run;
  return {
    epoch,
    step: at.globalStep,
    samplesSeen: at.samplesSeen,
    name: cfg.name,
    modelConfig: modelConfigToJson(model.config),
    trainConfig: cfg,
    rng: ranks[0].rng,
    data: { epoch, ranks },
    extra: { optimizer: hyper, history: at.history },
  };
}

/** --save-every-n-steps: epoch_latest with this epoch's data position, so a resume continues here. */
export async function saveStepCheckpoint(run: RunContext, epoch: number): Promise<void> {
  const { train, optimizer, setup } = run;
  const ranks = await rankStates(run, train.position());
  if (!setup.master || !setup.ckptDir) return;
  const { tensors: optState, hyper } = optimizer.stateTensors();
  saveCheckpoint(setup.ckptDir, 'epoch_latest', snapshotModel(run.model), optState, meta(run, epoch, ranks, hyper));
  setup.log.debug(`Saved step checkpoint ${join(setup.ckptDir, 'epoch_latest.safetensors')} (step ${run.at.globalStep}, batch ${train.position().batch} of epoch ${epoch})`);
}

/** The end-of-epoch saves; returns the epoch_K files written. */
export async function saveEpochCheckpoints(run: RunContext, completed: number): Promise<string[]> {
  const { cfg, train, optimizer, setup } = run;
  const position = train.position();
  const ranks = await rankStates(run, { ...position, epoch: completed, batch: 0, cursors: position.cursors.map(() => 0) });
  const ckptDir = setup.ckptDir;
  if (!setup.master || !ckptDir) return [];
  const written: string[] = [];
  const { tensors: optState, hyper } = optimizer.stateTensors();
  const m = meta(run, completed, ranks, hyper);
  const modelTensors = snapshotModel(run.model);
  if (completed === cfg.epochs || (cfg.saveFrequency > 0 && completed % cfg.saveFrequency === 0)) {
    if (cfg.saveFormat !== 'pt') {
      saveCheckpoint(ckptDir, `epoch_${completed}`, modelTensors, optState, m);
      written.push(join(ckptDir, `epoch_${completed}.safetensors`));
      setup.log.info(`Saved checkpoint ${join(ckptDir, `epoch_${completed}.safetensors`)}`);
    }
    if (cfg.saveFormat !== 'safetensors') {
      written.push(saveTorchEpoch(ckptDir, `epoch_${completed}`, { epoch: completed, name: cfg.name, model: modelTensors, optimizer }));
      setup.log.info(`Saved checkpoint ${join(ckptDir, `epoch_${completed}.pt`)}`);
    }
    if (cfg.deletePreviousCheckpoint && completed > 1) {
      deleteCheckpoint(ckptDir, `epoch_${completed - 1}`);
      deleteTorchEpoch(ckptDir, `epoch_${completed - 1}`);
    }
  }
  // step-level saves (--save-every-n-steps) are always safetensors pairs (a .pt carries no data position), so their epoch_latest is renewed at every epoch end too
  if ((cfg.saveMostRecent && cfg.saveFormat !== 'pt') || cfg.saveEveryNSteps) saveCheckpoint(ckptDir, 'epoch_latest', modelTensors, optState, m);
  if (cfg.saveMostRecent && cfg.saveFormat !== 'safetensors') saveTorchEpoch(ckptDir, 'epoch_latest', { epoch: completed, name: cfg.name, model: modelTensors, optimizer });
  return written;
}
