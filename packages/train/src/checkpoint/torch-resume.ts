/**
 * The trainer's side of OpenCLIP `epoch_K.pt` files: resuming a run from one (weights, epoch,
 * AdamW moments and step counts) and writing one at each save when --save-format is pt or both.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TensorToWrite } from '@openclip/engine/safetensors';
import type { OpenClipModel } from '@openclip/models';
import type { AdamW } from '../optim/adamw.js';
import { loadTorchTrainerCheckpoint, saveTorchTrainerCheckpoint } from './torch-trainer.js';

/** Loads an OpenCLIP trainer checkpoint into the model and optimizer; returns the completed epochs. */
export function resumeFromTorchCheckpoint(path: string, model: OpenClipModel, optimizer: AdamW, warn: (msg: string) => void): number {
  const shapes = new Map([...model.params.entries()].map(([k, v]) => [k, v.shape] as const));
  const ck = loadTorchTrainerCheckpoint(path, { groups: optimizer.groups, shapes });
  model.loadStateDict(ck.model, { strict: true, source: path });
  if (ck.optimizerState) optimizer.loadStateTensors(ck.optimizerState, path);
  else warn(`${path} has no optimizer state: AdamW starts with zero moments`);
  return ck.epoch;
}

/** Writes `<dir>/<tag>.pt` as OpenCLIP's trainer does; returns its path. */
export function saveTorchEpoch(dir: string, tag: string, c: { epoch: number; name: string; model: ReadonlyMap<string, TensorToWrite>; optimizer: AdamW }): string {
  const path = join(dir, `${tag}.pt`);
  const { tensors, hyper } = c.optimizer.stateTensors();
  saveTorchTrainerCheckpoint(path, { epoch: c.epoch, name: c.name, model: c.model, optimizerState: tensors, hyper });
  return path;
}

/** Removes `<dir>/<tag>.pt` (for --delete-previous-checkpoint). */
export function deleteTorchEpoch(dir: string, tag: string): void {
  rmSync(join(dir, `${tag}.pt`), { force: true });
}
