/**
 * OpenCLIP trainer checkpoints (`epoch_K.pt`, written by `torch.save` in open_clip_train/main.py):
 * `{epoch, name, state_dict, optimizer[, scaler]}`. Reading maps the torch AdamW state (parameters
 * numbered across `param_groups` in group order) onto our AdamW's state names; writing produces
 * the same dict, so OpenCLIP's `--resume epoch_K.pt` continues a run trained here and scripts that
 * look for `epoch_K.pt` find one.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '@openclip/common';
import { toFloat32, type RawTensor, type TensorToWrite } from '@openclip/engine/safetensors';
import { loadModelCheckpoint, serializeTorchCheckpoint, torchTuple, PyDict } from '@openclip/models';

/** Our optimizer's groups: parameter names in torch's order, and their weight decay. */
export interface GroupLayout {
  names: string[];
  weightDecay: number;
}

export interface TorchTrainerCheckpoint {
  path: string;
  /** Model tensors, `module.` prefix removed. */
  model: Map<string, RawTensor>;
  /** Completed epochs. */
  epoch: number;
  name: string | null;
  /** The optimizer state under our names (`optimizer.state.<param>.exp_avg|exp_avg_sq|step`), or null when the file has none. */
  optimizerState: Map<string, TensorToWrite> | null;
}

const STATE_PREFIX = 'optimizer.state.';

/** True when `path` names a torch trainer checkpoint rather than our safetensors pair. */
export function isTorchCheckpointPath(path: string): boolean {
  return /\.(pt|pth|bin|ckpt)$/i.test(path);
}

function field(d: unknown, key: string, where: string): unknown {
  if (!(d instanceof Map)) throw new Error(`${where}: expected a dict`);
  if (!d.has(key)) throw new Error(`${where}: no '${key}' entry`);
  return d.get(key);
}

function asNumber(v: unknown, where: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v && typeof v === 'object' && 'data' in v && ArrayBuffer.isView((v as RawTensor).data)) {
    const t = v as RawTensor;
    if (t.data.length !== 1) throw new Error(`${where}: expected a scalar, got shape [${t.shape}]`);
    return Number(t.data[0]);
  }
  throw new Error(`${where}: expected a number, got ${v === null ? 'None' : typeof v}`);
}

function asTensor(v: unknown, where: string): RawTensor {
  if (v && typeof v === 'object' && 'dtype' in v && 'data' in v) return v as RawTensor;
  throw new Error(`${where}: expected a tensor`);
}

/**
 * Maps a torch `optimizer.state_dict()` onto our AdamW state: group g's j-th parameter id is our
 * group g's j-th name. The group layout must match (OpenCLIP's two groups: gains/biases without
 * weight decay, then the rest), and every moment must have its parameter's shape.
 */
export function torchAdamWToState(optimizer: PyDict, groups: readonly GroupLayout[], shapes: ReadonlyMap<string, readonly number[]>, source: string): Map<string, TensorToWrite> {
  const pgs = field(optimizer, 'param_groups', `${source}: optimizer`);
  if (!Array.isArray(pgs)) throw new Error(`${source}: optimizer.param_groups is not a list`);
  if (pgs.length !== groups.length) {
    throw new Error(`${source}: the optimizer has ${pgs.length} parameter groups, this run has ${groups.length} (OpenCLIP's gain/bias group and weight-decay group); was it trained with other --lock-image / --lock-text settings?`);
  }
  const states = field(optimizer, 'state', `${source}: optimizer`) as Map<unknown, unknown>;
  const byId = new Map<number, unknown>();
  for (const [k, v] of states) byId.set(asNumber(k, `${source}: optimizer.state key`), v);
  const out = new Map<string, TensorToWrite>();
  pgs.forEach((pg, g) => {
    const ids = field(pg, 'params', `${source}: optimizer.param_groups[${g}]`);
    if (!Array.isArray(ids)) throw new Error(`${source}: optimizer.param_groups[${g}].params is not a list`);
    const names = groups[g].names;
    if (ids.length !== names.length) {
      throw new Error(`${source}: optimizer.param_groups[${g}] holds ${ids.length} parameters, this model's group ${g} has ${names.length}: the checkpoint is of another model or freeze setting`);
    }
    ids.forEach((rawId, j) => {
      const id = asNumber(rawId, `${source}: optimizer.param_groups[${g}].params[${j}]`);
      const s = byId.get(id);
      if (s === undefined) return; // never stepped (torch keeps no state for it)
      const name = names[j];
      const where = `${source}: optimizer.state[${id}] (${name})`;
      const shape = [...shapes.get(name)!];
      const step = asNumber(field(s, 'step', where), `${where}.step`);
      if (!Number.isInteger(step) || step < 0) throw new Error(`${where}.step: expected a non-negative integer, got ${step}`);
      for (const m of ['exp_avg', 'exp_avg_sq'] as const) {
        const t = asTensor(field(s, m, where), `${where}.${m}`);
        if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
          throw new Error(`${where}.${m} has shape [${t.shape}], the parameter is [${shape}]`);
        }
        out.set(`${STATE_PREFIX}${name}.${m}`, { dtype: 'F32', shape, data: t.dtype === 'F32' ? Float32Array.from(t.data as Float32Array) : toFloat32(t) });
      }
      out.set(`${STATE_PREFIX}${name}.step`, { dtype: 'F64', shape: [], data: Float64Array.of(step) });
    });
  });
  return out;
}

/** Reads an OpenCLIP `epoch_K.pt`; the optimizer state is mapped when `groups` is given. */
export function loadTorchTrainerCheckpoint(path: string, layout?: { groups: readonly GroupLayout[]; shapes: ReadonlyMap<string, readonly number[]> }): TorchTrainerCheckpoint {
  const c = loadModelCheckpoint(path);
  if (!c.trainer) throw new Error(`${path}: a bare state dict, not a trainer checkpoint ({epoch, state_dict, optimizer}); use it with --pretrained to start from its weights`);
  if (c.trainer.epoch === undefined) throw new Error(`${path}: the trainer checkpoint has no 'epoch' entry`);
  const optimizerState = layout && c.trainer.optimizer ? torchAdamWToState(c.trainer.optimizer, layout.groups, layout.shapes, path) : null;
  return { path, model: c.stateDict, epoch: c.trainer.epoch, name: c.trainer.name ?? null, optimizerState };
}

export interface TorchOptimizerHyper {
  lr: number;
  betas: [number, number];
  eps: number;
  groups: { names: string[]; weightDecay: number }[];
}

/** Our AdamW state as torch's `AdamW.state_dict()`: parameters numbered across the groups in order. */
export function stateToTorchAdamW(state: ReadonlyMap<string, TensorToWrite>, hyper: TorchOptimizerHyper): PyDict {
  const states = new PyDict();
  const paramGroups: PyDict[] = [];
  let id = 0;
  for (const g of hyper.groups) {
    const ids: number[] = [];
    for (const name of g.names) {
      const m = state.get(`${STATE_PREFIX}${name}.exp_avg`);
      const v = state.get(`${STATE_PREFIX}${name}.exp_avg_sq`);
      const step = state.get(`${STATE_PREFIX}${name}.step`);
      if (m && v && step) {
        const s = new PyDict();
        // torch >= 1.12 keeps `step` as a float32 scalar tensor
        s.set('step', { dtype: 'F32', shape: [], data: Float32Array.of(Number(step.data[0])) });
        s.set('exp_avg', m);
        s.set('exp_avg_sq', v);
        states.set(id, s);
      }
      ids.push(id++);
    }
    const pg = new PyDict();
    for (const [k, val] of [
      ['lr', hyper.lr],
      ['betas', torchTuple(hyper.betas[0], hyper.betas[1])],
      ['eps', hyper.eps],
      ['weight_decay', g.weightDecay],
      ['amsgrad', false],
      ['foreach', null],
      ['maximize', false],
      ['capturable', false],
      ['differentiable', false],
      ['fused', null],
      ['params', ids],
    ] as const) pg.set(k, val);
    paramGroups.push(pg);
  }
  const opt = new PyDict();
  opt.set('state', states);
  opt.set('param_groups', paramGroups);
  return opt;
}

/** Writes `{epoch, name, state_dict, optimizer}` as OpenCLIP's trainer does (torch.save zip format), atomically. */
export function saveTorchTrainerCheckpoint(
  path: string,
  c: { epoch: number; name: string; model: ReadonlyMap<string, TensorToWrite>; optimizerState: ReadonlyMap<string, TensorToWrite>; hyper: TorchOptimizerHyper },
): void {
  const sd = new PyDict('collections.OrderedDict');
  for (const [k, v] of c.model) sd.set(k, v);
  const top = new PyDict();
  top.set('epoch', c.epoch);
  top.set('name', c.name);
  top.set('state_dict', sd);
  top.set('optimizer', stateToTorchAdamW(c.optimizerState, c.hyper));
  writeFileAtomic(path, [serializeTorchCheckpoint(top)]);
}

/**
 * `--resume latest` over OpenCLIP-style files: `epoch_latest.pt` when it is at least as new as
 * the highest `epoch_K.pt` (OpenCLIP's --save-most-recent), else the highest `epoch_K.pt`; null when none.
 */
export function findLatestTorchCheckpoint(dir: string): string | null {
  if (!existsSync(dir)) return null;
  let best: { k: number; f: string } | null = null;
  let latest = false;
  for (const f of readdirSync(dir)) {
    if (f === 'epoch_latest.pt') latest = true;
    const m = /^epoch_(\d+)\.pt$/.exec(f);
    if (m && (!best || Number(m[1]) > best.k)) best = { k: Number(m[1]), f };
  }
  const latestPath = join(dir, 'epoch_latest.pt');
  if (latest && (!best || statSync(latestPath).mtimeMs >= statSync(join(dir, best.f)).mtimeMs)) return latestPath;
  return best ? join(dir, best.f) : null;
}
