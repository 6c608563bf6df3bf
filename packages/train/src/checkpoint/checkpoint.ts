/**
 * Training checkpoints (docs/ARCHITECTURE.md "Files"): a pair of safetensors files per save,
 * `<tag>.safetensors` with the model tensors alone under OpenCLIP's state-dict names (so Python
 * OpenCLIP loads it as `--pretrained`), and `<tag>.state.safetensors` with the optimizer state
 * plus JSON metadata (epoch, step, samples seen, configs, RNG and data position). Both carry the
 * same random id; a pair whose ids differ (a save interrupted between the two files) is refused.
 * Each file is written atomically (temporary name, fsync, rename).
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { SafetensorsFile, saveSafetensors, type RawTensor, type TensorToWrite } from '@openclip/engine/safetensors';

export const CHECKPOINT_FORMAT = 'openclip-ts/1';

export interface CheckpointMeta {
  format: string;
  /** Ties the state file to its model file. */
  id: string;
  /** Completed epochs (OpenCLIP's `epoch`). */
  epoch: number;
  /** Optimizer steps taken. */
  step: number;
  samplesSeen: number;
  name: string;
  modelConfig: unknown;
  trainConfig: unknown;
  /** RNG state(s) to restore, by purpose. */
  rng: Record<string, unknown>;
  /** Where the data stream stands (epoch, batches consumed), to continue mid-epoch. */
  data: Record<string, unknown>;
  /** Anything else the trainer wants back (e.g. optimizer hyper-parameters). */
  extra?: Record<string, unknown>;
  createdAt: string;
}

export interface CheckpointContents {
  model: Map<string, RawTensor>;
  state: Map<string, RawTensor>;
  meta: CheckpointMeta;
  modelPath: string;
  statePath: string;
}

const META_KEY = 'openclip_ts';

export function checkpointPaths(dir: string, tag: string): { modelPath: string; statePath: string } {
  return { modelPath: join(dir, `${tag}.safetensors`), statePath: join(dir, `${tag}.state.safetensors`) };
}

/**
 * Saves a checkpoint pair under `dir` as `<tag>.safetensors` + `<tag>.state.safetensors`.
 * The model file is written first: a crash before the state file leaves a pair whose ids
 * differ, which `loadCheckpoint` refuses and `findLatestCheckpoint` skips.
 */
export function saveCheckpoint(
  dir: string,
  tag: string,
  model: Map<string, TensorToWrite>,
  state: Map<string, TensorToWrite>,
  meta: Omit<CheckpointMeta, 'format' | 'id' | 'createdAt'>,
): CheckpointMeta {
  const full: CheckpointMeta = { format: CHECKPOINT_FORMAT, id: randomUUID(), createdAt: new Date().toISOString(), ...meta };
  const { modelPath, statePath } = checkpointPaths(dir, tag);
  saveSafetensors(modelPath, model, { format: 'pt', [`${META_KEY}_id`]: full.id, [`${META_KEY}_epoch`]: String(full.epoch) });
  saveSafetensors(statePath, state, { format: 'pt', [`${META_KEY}_id`]: full.id, [META_KEY]: JSON.stringify(full) });
  return full;
}

/** Accepts `<tag>.safetensors`, `<tag>.state.safetensors`, or `<dir>/<tag>` without extension. */
function resolvePair(path: string): { modelPath: string; statePath: string } {
  const base = basename(path);
  const tag = base.replace(/\.state\.safetensors$/, '').replace(/\.safetensors$/, '');
  return checkpointPaths(dirname(path), tag);
}

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/** Reads the metadata of a checkpoint pair and checks the pair belongs together. */
export function readCheckpointMeta(path: string): CheckpointMeta & { modelPath: string; statePath: string } {
  const { modelPath, statePath } = resolvePair(path);
  if (!existsSync(modelPath)) throw new CheckpointError(`${modelPath}: checkpoint model file not found`);
  if (!existsSync(statePath)) throw new CheckpointError(`${statePath}: checkpoint state file not found (an OpenCLIP-style weights-only file can be used with --pretrained)`);
  const m = SafetensorsFile.open(modelPath);
  const s = SafetensorsFile.open(statePath);
  try {
    const raw = s.metadata[META_KEY];
    if (!raw) throw new CheckpointError(`${statePath}: no '${META_KEY}' metadata: not an openclip-ts checkpoint state file`);
    let meta: CheckpointMeta;
    try {
      meta = JSON.parse(raw) as CheckpointMeta;
    } catch (e) {
      throw new CheckpointError(`${statePath}: metadata '${META_KEY}' is not valid JSON (${(e as Error).message})`);
    }
    if (meta.format !== CHECKPOINT_FORMAT) throw new CheckpointError(`${statePath}: unknown checkpoint format '${meta.format}' (expected ${CHECKPOINT_FORMAT})`);
    const modelId = m.metadata[`${META_KEY}_id`];
    if (modelId !== meta.id) {
      throw new CheckpointError(`${modelPath} and ${statePath} do not belong together (ids ${modelId ?? 'missing'} vs ${meta.id}): the save was interrupted; use an earlier checkpoint`);
    }
    return { ...meta, modelPath, statePath };
  } finally {
    m.close();
    s.close();
  }
}

/** Loads a checkpoint pair (model tensors, optimizer state, metadata). */
export function loadCheckpoint(path: string): CheckpointContents {
  const meta = readCheckpointMeta(path);
  const m = SafetensorsFile.open(meta.modelPath);
  const s = SafetensorsFile.open(meta.statePath);
  try {
    const { modelPath, statePath, ...rest } = meta;
    return { model: m.readAll(), state: s.readAll(), meta: rest, modelPath, statePath };
  } finally {
    m.close();
    s.close();
  }
}

/**
 * `--resume latest`: the newest complete pair in `dir` — `epoch_latest` when it is complete and
 * at least as new as the numbered ones, else the highest `epoch_K`. Incomplete or mismatched pairs
 * are skipped. Returns null when there is none.
 */
export function findLatestCheckpoint(dir: string): string | null {
  if (!existsSync(dir)) return null;
  const candidates: { path: string; epoch: number; step: number; latest: boolean }[] = [];
  for (const f of readdirSync(dir)) {
    const m = /^(epoch_(\d+|latest))\.safetensors$/.exec(f);
    if (!m) continue;
    try {
      const meta = readCheckpointMeta(join(dir, f));
      candidates.push({ path: join(dir, f), epoch: meta.epoch, step: meta.step, latest: m[2] === 'latest' });
    } catch {
      // incomplete or foreign pair: not a resume point
    }
  }
  candidates.sort((a, b) => b.step - a.step || b.epoch - a.epoch || Number(b.latest) - Number(a.latest));
  return candidates[0]?.path ?? null;
}

/** Removes a checkpoint pair (for --delete-previous-checkpoint). */
export function deleteCheckpoint(dir: string, tag: string): void {
  const { modelPath, statePath } = checkpointPaths(dir, tag);
  rmSync(statePath, { force: true });
  rmSync(modelPath, { force: true });
}
